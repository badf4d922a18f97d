// Compiled into each program or shared library that links the
// convergent_backends_at_startup OBJECT library (the C API library, the CLI,
// the test and bench programs). Being an object file of the program itself,
// not a member of a static archive, it is never dropped by the linker, so the
// registration happens before main() (or when libconvergent is loaded)
// without editing every main(). The registry it fills is a function-local
// static, so the order of static initialisers does not matter.
#include "convergent/builtin_backends.hpp"

namespace {
const bool registered_at_startup = (convergent::register_builtin_backends(), true);
}  // namespace

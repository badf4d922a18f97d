#include "signals.hpp"

#include <csignal>

namespace convergent::cli {

void ignore_file_size_signal() { std::signal(SIGXFSZ, SIG_IGN); }

}  // namespace convergent::cli

// Temporary siblings of an output (AtomicFile, StagedDirectory): how they are
// named, locked and, after a crash, cleaned up.
//
// A temporary sibling of "<dir>/<name>" is "<dir>/.<name>.tmp-<pid>-<random>"
// (mkstemp/mkdtemp make the random part, so the name cannot be predicted and
// the creation is exclusive). Its creator holds an flock on it for as long as
// it lives. A later run into the same target removes the siblings left by a
// crash (kill -9): those whose pid no longer exists (kill(pid, 0) fails with
// ESRCH) and whose flock can be taken. A concurrent writer keeps both its pid
// and its lock, so its temporary is never touched.
#pragma once

#include <filesystem>
#include <string>

namespace convergent::detail {

// ".<name>.tmp-<pid>-": the prefix of this process's temporary siblings of name.
std::string temporary_prefix(const std::string& name);

// Removes the temporary siblings of dir/name left behind by processes that
// are gone. Never throws; what cannot be removed is left alone.
void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& name);

// The process umask without changing it (umask(2) can only read by writing,
// which races with other threads): Linux reports it in /proc/self/status.
unsigned current_umask();

// strerror(error) as a std::string.
std::string error_text(int error);

}  // namespace convergent::detail

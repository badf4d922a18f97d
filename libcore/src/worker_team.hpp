// Private: the helper threads of the CPU statistics pass.
//
// Worker threads that sleep on a condition variable between jobs (not an
// OpenMP team: libgomp's workers spin for milliseconds after a region, next
// to the cores BLAS or the next job need, and its pool's first start in a
// fresh process costs milliseconds). The caller runs the job too, and a
// worker joins only while the caller has not finished it: jobs claim their
// work items as they go, so a worker that wakes late (a busy machine, or a
// halted virtual CPU) costs nothing but its share being done by the others,
// and the caller never waits for a wake-up. A caller that finds the team
// busy (another accumulator on another thread) runs the job alone.
#pragma once

#include <functional>

namespace convergent {
namespace worker_team {

// job() on the calling thread and on up to `helpers` worker threads at
// once (each worker runs it at most once; none, if they all wake after the
// caller is done). Returns when every thread that joined has returned;
// rethrows the first exception any of them threw.
void run(int helpers, const std::function<void()>& job);

// job(0) ... job(parts - 1), each once, claimed by the caller and up to
// parts - 1 workers; rethrows the first exception.
void run_parts(int parts, const std::function<void(int)>& job);

}  // namespace worker_team
}  // namespace convergent

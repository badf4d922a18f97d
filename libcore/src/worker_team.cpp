// The helper threads of the CPU statistics pass (see worker_team.hpp).
#include "worker_team.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace convergent {
namespace worker_team {

namespace {

// Runs job; returns what it threw, or null.
std::exception_ptr run_catching(const std::function<void()>& job) {
    try {
        job();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

// Objects are never freed: a detached thread must not outlive the mutex it
// waits on at exit.
class Team {
public:
    static Team& get() {
        static std::mutex* lock = new std::mutex;
        static Team* team = nullptr;
        static pid_t owner = 0;
        std::lock_guard<std::mutex> guard(*lock);
        if (team == nullptr || owner != ::getpid()) {  // again in a child after fork(), which has no workers
            team = new Team;
            owner = ::getpid();
        }
        return *team;
    }

    void run(int helpers, const std::function<void()>& job) {
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock() || helpers < 1) {
            job();
            return;
        }
        {
            std::lock_guard<std::mutex> guard(mutex_);
            while (int(workers_) < helpers) {
                std::thread([this] { loop(); }).detach();
                ++workers_;
            }
            job_ = &job;
            wanted_ = helpers;
            error_ = nullptr;
        }
        wake_.notify_all();
        std::exception_ptr error = run_catching(job);
        std::unique_lock<std::mutex> guard(mutex_);
        job_ = nullptr;  // no one joins any more
        finished_.wait(guard, [&] { return active_ == 0; });
        if (!error) error = error_;
        error_ = nullptr;
        guard.unlock();
        if (error) std::rethrow_exception(error);
    }

private:
    Team() = default;

    void loop() {
        std::unique_lock<std::mutex> guard(mutex_);
        for (;;) {
            wake_.wait(guard, [&] { return job_ != nullptr && wanted_ > 0; });
            --wanted_;
            ++active_;
            const std::function<void()>& job = *job_;
            guard.unlock();
            const std::exception_ptr error = run_catching(job);
            guard.lock();
            if (error && !error_) error_ = error;
            if (--active_ == 0) finished_.notify_one();
        }
    }

    std::mutex busy_, mutex_;
    std::condition_variable wake_, finished_;
    const std::function<void()>* job_ = nullptr;  // the job workers may join (guarded by mutex_)
    unsigned workers_ = 0;
    int wanted_ = 0, active_ = 0;  // workers still to join, workers in the job
    std::exception_ptr error_;     // a worker's first exception
};

}  // namespace

void run(int helpers, const std::function<void()>& job) { Team::get().run(helpers, job); }

void run_parts(int parts, const std::function<void(int)>& job) {
    std::atomic<int> next{0};
    run(parts - 1, [&] {
        for (int part = next.fetch_add(1); part < parts; part = next.fetch_add(1)) job(part);
    });
}

}  // namespace worker_team
}  // namespace convergent

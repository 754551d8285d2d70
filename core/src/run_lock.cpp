#include "steppar/run_lock.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace steppar {

RunLock::RunLock(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw StateError("cannot open lock file '" + path.string() + "': " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = {};
        const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
        ::close(fd_);
        fd_ = -1;
        std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "unknown";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        throw AlreadyRunning("this pipeline is already running (pid " + holder + ", lock '" + path.string() +
                             "'); wait for it or stop it first");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The pid is only for messages; the flock is what protects the run.
    }
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

StepLease::StepLease(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    // O_CLOEXEC: a program the node execs does not hold it; a process it merely forks does,
    // and a new run then waits for that one too.
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_SH) != 0) {
        ::close(fd_);
        fd_ = -1;
    }
    // Without a lease the step still runs: the lease only protects the next run from this one.
}

StepLease::~StepLease() {
    if (fd_ >= 0) ::close(fd_);
}

void wait_for_previous_steps(const std::filesystem::path& path, double seconds) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return;  // no step ever ran here
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::close(fd);
            throw AlreadyRunning("steps of an earlier run of this pipeline are still running (they hold '" + path.string() +
                                 "'); wait for them or stop them first (fuser -k " + path.string() + ")");
        }
        ::usleep(5000);
    }
    ::close(fd);  // and with it the exclusive lock: this run's steps take shared ones
}

}  // namespace steppar

#include "steppar/run_lock.hpp"
#include "steppar/text.hpp"
#include "steppar/log.hpp"
#include "steppar/step_reaper.hpp"

#include "steppar/hash.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstddef>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace steppar {

namespace {

// The pid in a lock file, for messages ("unknown" when there is none).
std::string pid_in(int fd) {
    char pid[32] = {};
    const ssize_t n = fd >= 0 ? ::pread(fd, pid, sizeof pid - 1, 0) : -1;
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return holder;
}

[[noreturn]] void already_running(const std::string& holder, const std::filesystem::path& path) {
    throw AlreadyRunning("this pipeline is already running (pid " + holder + ", lock '" + path.string() +
                         "'); wait for it or stop it first");
}

// An abstract Unix socket's address: a name in the kernel, not on disk, that exists exactly as
// long as the socket bound to it. Named after the state folder's full path.
sockaddr_un abstract_address(const std::filesystem::path& lock, socklen_t& length) {
    std::error_code ec;
    std::filesystem::path folder = std::filesystem::weakly_canonical(lock.parent_path(), ec);
    if (ec) folder = std::filesystem::absolute(lock.parent_path(), ec);
    const std::string name = "steppar-run:" + sha256_hex(folder.string());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return address;
}

}  // namespace

WatchLock::WatchLock(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) throw StateError("cannot open the watch lock '" + path.string() + "': " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const std::string holder = pid_in(fd_);
        ::close(fd_);
        fd_ = -1;
        throw AlreadyRunning("this pipeline is already watched (pid " + holder + ", lock '" + path.string() + "'); one watcher per state folder");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The pid is for messages and for the watcher's own runs; the flock is what holds.
    }
}

WatchLock::~WatchLock() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

// Refuses a run by hand while a watcher owns the state folder (see WatchedElsewhere).
void check_not_watched(const std::filesystem::path& watch_lock) {
    const int fd = ::open(watch_lock.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;  // never watched
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {  // no watcher now
        ::close(fd);
        return;
    }
    const std::string holder = pid_in(fd);
    ::close(fd);
    const char* mine = std::getenv(watcher_variable);
    if (mine && holder == mine) return;  // one of the watcher's own runs
    throw WatchedElsewhere("'steppar-host watch' (pid " + holder + ") owns this state folder and runs the pipeline when its inputs change; "
                           "leave the run to it, or stop it first (kill -TERM " + holder + ")");
}

}  // namespace

RunLock::RunLock(const std::filesystem::path& path) {
    check_not_watched(path.parent_path() / "watch.lock");
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    // 1. A name no file operation can take away: `rm -rf .steppar` during a run, or a `clean`
    //    racing it, leaves it bound, so a second run is refused whatever happened on disk.
    socklen_t length = 0;
    const sockaddr_un address = abstract_address(path, length);
    socket_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (socket_ >= 0 && ::bind(socket_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        const int error = errno;
        ::close(socket_);
        socket_ = -1;
        if (error == EADDRINUSE) {
            // The holder's pid from the kernel, even when its lock file is gone.
            std::string holder = "unknown";
            const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            ucred peer{};
            socklen_t size = sizeof peer;
            if (probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&address), length) == 0 &&
                ::getsockopt(probe, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 && peer.pid > 0)
                holder = std::to_string(peer.pid);
            if (probe >= 0) ::close(probe);
            already_running(holder, path);
        }
        // No abstract sockets here (a restricted sandbox): the flock below still holds.
    }
    if (socket_ >= 0) ::listen(socket_, 4);
    // 2. The flock, on a file that must still be the one at `path` once it is held (a lock taken
    //    on a file that was unlinked meanwhile protects nothing).
    for (int attempt = 0;; ++attempt) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd_ < 0) {
            const int error = errno;
            if (socket_ >= 0) ::close(socket_);
            throw StateError("cannot open lock file '" + path.string() + "': " +
                             (error == ELOOP ? std::string("it is a symbolic link (steppar never makes one there): remove it and rerun")
                                             : std::strerror(error)));
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const std::string holder = pid_in(fd_);
            ::close(fd_);
            fd_ = -1;
            if (socket_ >= 0) ::close(socket_);
            socket_ = -1;
            already_running(holder, path);
        }
        struct stat held {}, named {};
        if (::fstat(fd_, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev)
            break;
        ::close(fd_);
        fd_ = -1;
        if (attempt == 20) {
            if (socket_ >= 0) ::close(socket_);
            throw StateError("lock file '" + path.string() + "' keeps being replaced; is something removing the state folder?");
        }
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The pid is only for messages; the locks are what protect the run.
    }
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
    if (socket_ >= 0) ::close(socket_);  // and the name
}

StepLease::StepLease(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    // O_CLOEXEC: a program the node execs does not hold it; a process it merely forks does,
    // and a new run then waits for that one too.
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
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
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + std::chrono::duration<double>(seconds);
    bool swept = false;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        // The steps of a killed run stop within milliseconds (PR_SET_PDEATHSIG). What still holds
        // the lease after 2 s was left by a dead run (a process a node forked, holding the lease
        // it inherited): this run holds the run lock, so no live run owns it.
        if (!swept && std::chrono::steady_clock::now() >= started + std::chrono::duration<double>(std::min(seconds, 2.0))) {
            swept = true;
            if (const auto killed = kill_holders_of(path); !killed.empty())
                warn("killed " + std::to_string(killed.size()) + " process(es) an earlier run of this pipeline left running (" +
                     join_first(killed, 5) + "; they held '" + path.string() + "')");
            continue;
        }
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

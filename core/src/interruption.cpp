#include "steppar/interruption.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace steppar {
namespace detail {
std::atomic<int> stop_signal{0};
}  // namespace detail

namespace {

constexpr int watched[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> wake_write_end{-1};
std::atomic<pid_t> watching_pid{0};
struct sigaction previous[sizeof watched / sizeof watched[0]];

extern "C" void on_stop_signal(int signal) {
    const int saved_errno = errno;
    if (::getpid() != watching_pid.load()) {
        // A child between fork and exec: it must not speak for the host. It dies as it would have.
        ::signal(signal, SIG_DFL);
        ::raise(signal);
        errno = saved_errno;
        return;
    }
    int none = 0;
    detail::stop_signal.compare_exchange_strong(none, signal);
    const char byte = static_cast<char>(signal);
    (void)!::write(wake_write_end.load(), &byte, 1);  // full pipe: the loop has bytes to read anyway
    errno = saved_errno;
}

}  // namespace

namespace detail {
void throw_interrupted() {
    const int signal = stop_signal.load();
    throw Interrupted("interrupted by " + signal_name(signal), signal);
}
}  // namespace detail

std::string signal_name(int signal) {
    const char* abbrev = ::sigabbrev_np(signal);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

InterruptWatch::InterruptWatch() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0)
        throw StateError(std::string("cannot create a pipe to watch for signals: ") + std::strerror(errno));
    read_end_ = ends[0];
    wake_write_end = ends[1];
    watching_pid = ::getpid();
    detail::stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESTART;  // work in progress goes on to its next interruption point
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(watched); ++i) ::sigaction(watched[i], &action, &previous[i]);
}

InterruptWatch::~InterruptWatch() {
    for (std::size_t i = 0; i < std::size(watched); ++i) ::sigaction(watched[i], &previous[i], nullptr);
    ::close(wake_write_end.exchange(-1));
    ::close(read_end_);
    watching_pid = 0;
}

}  // namespace steppar

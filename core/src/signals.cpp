#include "steppar/signals.hpp"

#include "steppar/error.hpp"
#include "steppar/interruption.hpp"
#include "steppar/step_reaper.hpp"
#include "steppar/step_trace.hpp"
#include "steppar/temporary_files.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace steppar {
namespace {

constexpr int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

// --- the host's stop requests -------------------------------------------------------------

std::atomic<int> wake_write_end{-1};
std::atomic<pid_t> watching_pid{0};
struct sigaction previous[std::size(stop_signals)];

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

// --- a step's temporary files ---------------------------------------------------------------

extern "C" void remove_temporaries_and_die(int signal) {
    unlink_registered_temporaries();
    // What its node started dies with the step, even what left its process group.
    kill_children_from_signal_handler();
    flush_step_trace_on_signal();  // the partitions it finished still get their rows
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

}  // namespace

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
    for (std::size_t i = 0; i < std::size(stop_signals); ++i) ::sigaction(stop_signals[i], &action, &previous[i]);
}

InterruptWatch::~InterruptWatch() {
    for (std::size_t i = 0; i < std::size(stop_signals); ++i) ::sigaction(stop_signals[i], &previous[i], nullptr);
    ::close(wake_write_end.exchange(-1));
    ::close(read_end_);
    watching_pid = 0;
}

void remove_temporaries_on_termination_signals() {
    // Crashes too: the handler only unlinks and re-raises, so the process still dies of the
    // same signal (and dumps core where enabled).
    for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
        struct sigaction action = {};
        action.sa_handler = remove_temporaries_and_die;
        action.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        ::sigaction(signal, &action, nullptr);
    }
}

int watch_children_and_ignore_stops() {
    for (const int s : stop_signals) ::signal(s, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t child_ended;
    sigemptyset(&child_ended);
    sigaddset(&child_ended, SIGCHLD);
    // Also blocked, not only ignored: a step inherits the mask, so a stop the host sends in the
    // instant after fork waits (an ignored signal would be lost) until the step unblocks it.
    sigset_t blocked = child_ended;
    for (const int s : stop_signals) sigaddset(&blocked, s);
    ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
    return ::signalfd(-1, &child_ended, SFD_NONBLOCK | SFD_CLOEXEC);
}

void restore_default_signals(const sigset_t& mask) {
    for (const int s : stop_signals) ::signal(s, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
}

void restore_default_signals() {
    sigset_t none;
    sigemptyset(&none);
    restore_default_signals(none);
}

sigset_t current_signal_mask() {
    sigset_t mask;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    return mask;
}

SigpipeBlocked::SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
}

SigpipeBlocked::~SigpipeBlocked() {
    sigset_t pending;
    if (!sigismember(&old_, SIGPIPE) && ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const timespec now{0, 0};
        ::sigtimedwait(&pipe_, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace steppar

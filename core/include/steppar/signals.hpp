// Every change steppar makes to how its processes take signals, in one place. The processes
// and what each needs:
//
//   host       SIGINT/SIGTERM/SIGHUP are stop requests: recorded, not fatal (InterruptWatch);
//              the runners then stop their steps and exit 128 + signal
//   step       a slice or node process dies of a stop or crash signal as it would anyway, but
//              first unlinks its open temporary files and writes its trace rows
//              (remove_temporaries_on_termination_signals)
//   server     the fork server ignores stop requests (the host decides) and hears of its
//              children's ends through a descriptor (watch_children_and_ignore_stops)
//   program    a program steppar starts (sbatch, dot) begins with default handling and an empty
//              mask (restore_default_signals), and steppar survives writing to one that quit
//              reading (SigpipeBlocked)
//
// What a stop request means to the work in progress (Interrupted, interruption_point) is
// interruption.hpp; this header only installs and removes handlers and masks.
#pragma once

#include <csignal>

namespace steppar {

/// While one exists, SIGINT, SIGTERM and SIGHUP do not end the process: the first is kept for
/// interrupt_signal() (interruption.hpp), and every one writes a byte (its number) to wake_fd().
/// A process forked from the host and not yet exec'd still dies of them, as it would without a
/// watch. One at a time per process; the previous handlers come back when it goes.
class InterruptWatch {
public:
    InterruptWatch();
    ~InterruptWatch();
    InterruptWatch(const InterruptWatch&) = delete;
    InterruptWatch& operator=(const InterruptWatch&) = delete;

    /// Readable after each signal; close-on-exec and non-blocking.
    int wake_fd() const noexcept { return read_end_; }

private:
    int read_end_ = -1;
};

/// Makes SIGINT, SIGTERM, SIGHUP and crash signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
/// unlink the registered temporary files of this process (temporary_files.hpp), and write the
/// trace rows it buffered (step_trace.hpp), before the process dies of the signal: a slice
/// stopped by its runner leaves no partial file behind.
/// (SIGKILL cannot be caught: the stale-temporary sweeps cover it.)
void remove_temporaries_on_termination_signals();

/// The fork server's signals: stop requests and SIGPIPE ignored, SIGCHLD (and the stop signals,
/// so that a step forked in the instant a stop arrives keeps it pending rather than losing it)
/// blocked. Returns a signalfd readable when a child ended, or -1.
int watch_children_and_ignore_stops();

/// In a new process before it runs its own code: default handling of the stop signals and
/// SIGPIPE, and the signal mask `mask` (empty for a program that is exec'd).
void restore_default_signals(const sigset_t& mask);
void restore_default_signals();

/// This thread's signal mask.
sigset_t current_signal_mask();

/// While one exists, SIGPIPE is blocked in this thread: writing to a program that stopped
/// reading fails with EPIPE instead of killing steppar. A SIGPIPE raised meanwhile is taken
/// before the old mask comes back.
class SigpipeBlocked {
public:
    SigpipeBlocked();
    ~SigpipeBlocked();
    SigpipeBlocked(const SigpipeBlocked&) = delete;
    SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

private:
    sigset_t pipe_, old_;
};

}  // namespace steppar

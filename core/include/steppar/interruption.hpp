// Stop requests (SIGINT, SIGTERM, SIGHUP) seen by the host's own long work. The handler that
// records them is signals.hpp's InterruptWatch. Waiting for children is done by an event loop,
// which hears of a signal through InterruptWatch::wake_fd(); but scanning a million
// partitions, or writing their plan, runs with no loop watching. Such work calls
// interruption_point() as it goes, so a stop request ends it within milliseconds.
#pragma once

#include "steppar/error.hpp"

#include <atomic>

namespace steppar {

/// A run stopped by SIGINT/SIGTERM/SIGHUP: exit code 128 + signal, like a shell.
class Interrupted : public Error {
public:
    Interrupted(const std::string& message, int signal) : Error(message), signal_(signal) {}
    int exit_code() const noexcept override { return 128 + signal_; }
    int signal() const noexcept { return signal_; }

private:
    int signal_;
};

namespace detail {
extern std::atomic<int> stop_signal;
[[noreturn]] void throw_interrupted();
}  // namespace detail

/// 0, or the first stop signal received while an InterruptWatch (signals.hpp) existed.
inline int interrupt_signal() noexcept { return detail::stop_signal.load(std::memory_order_relaxed); }

/// Throws Interrupted when a stop was requested. Cheap (one atomic load): call it per partition.
inline void interruption_point() {
    if (interrupt_signal() != 0) detail::throw_interrupted();
}

/// "SIGTERM", or "signal 42" for one without a name.
std::string signal_name(int signal);

}  // namespace steppar

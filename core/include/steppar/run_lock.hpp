// One run per state folder: `run` (and `clean`) hold two locks for their whole life, and the
// kernel drops both when the holder dies (even by SIGKILL), so nothing is ever left to clean up:
//  - an abstract Unix socket named after the state folder's path, which no file operation can
//    remove: `rm -rf .steppar` during a run, or `clean` racing it, cannot let a second run in;
//    a second run learns the holder's pid from it (SO_PEERCRED);
//  - an exclusive flock on <state>/lock, taken again if the file was replaced meanwhile, which
//    also works where abstract sockets are not allowed. The file carries the holder's pid.
//
// The steps of a run (slices and plain nodes, forked or exec'd, or cluster jobs) each hold a
// shared flock on <state>/steps.lock while they live. A host killed with SIGKILL takes its
// children down (PR_SET_PDEATHSIG), but they need a moment to stop; a new run first waits for
// every such lease to go, so no step of the old run can rename an output over the new run's.
#pragma once

#include "steppar/error.hpp"

#include <filesystem>

namespace steppar {

/// Another live run holds the state folder.
class AlreadyRunning : public UserError {
public:
    using UserError::UserError;
};

/// `steppar-host watch` owns the state folder: a `run` or `clean` by hand (cron) is refused with
/// exit code 75 (EX_TEMPFAIL: try again later), so a cron job can tell it from a failure.
class WatchedElsewhere : public AlreadyRunning {
public:
    using AlreadyRunning::AlreadyRunning;
    int exit_code() const noexcept override { return 75; }
};

/// The environment variable a watcher gives the runs it starts: its pid.
inline constexpr const char* watcher_variable = "STEPPAR_WATCHER";

/// Held by `steppar-host watch` for its life: an exclusive flock on <state>/watch.lock, which
/// holds its pid. Throws AlreadyRunning when another watcher holds it.
class WatchLock {
public:
    explicit WatchLock(const std::filesystem::path& path);
    ~WatchLock();
    WatchLock(const WatchLock&) = delete;
    WatchLock& operator=(const WatchLock&) = delete;

private:
    int fd_ = -1;
};

class RunLock {
public:
    /// Takes the lock or throws AlreadyRunning ("... already running (pid N)"). First, when a
    /// watcher holds the watch lock beside it (`watch.lock`) and this process is not one of its
    /// runs (STEPPAR_WATCHER), throws WatchedElsewhere.
    explicit RunLock(const std::filesystem::path& path);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    int fd_ = -1;
    int socket_ = -1;
};

/// A step's shared lease on <state>/steps.lock, for the life of its process (see the banner).
class StepLease {
public:
    explicit StepLease(const std::filesystem::path& path);
    ~StepLease();
    StepLease(const StepLease&) = delete;
    StepLease& operator=(const StepLease&) = delete;

private:
    int fd_ = -1;
};

/// Waits until no step holds a lease on `path` (up to `seconds`); throws AlreadyRunning naming
/// the file when steps of an earlier run are still alive then.
void wait_for_previous_steps(const std::filesystem::path& path, double seconds);

}  // namespace steppar

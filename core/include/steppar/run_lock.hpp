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

class RunLock {
public:
    /// Takes the lock or throws AlreadyRunning ("... already running (pid N)").
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

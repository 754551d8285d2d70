// One run per state folder: `run` holds an exclusive flock on <state>/lock for its whole life.
// The kernel drops the lock when the holder dies (even by SIGKILL), so a lock left behind by a
// dead run is simply taken over; the file only carries the holder's pid for the message.
#pragma once

#include "steppar/error.hpp"

#include <filesystem>

namespace steppar {

/// Another live run holds the state folder.
class AlreadyRunning : public Error {
public:
    using Error::Error;
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
};

}  // namespace steppar

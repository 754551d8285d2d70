// The typed errors of the steppar core. Each family maps to one exit code at the CLI edge:
// problems with what the user gave us (pipeline file, command line, plugins) are 2, a node
// that failed while running is 1.
#pragma once

#include <stdexcept>
#include <string>

namespace steppar {

/// Base of every steppar error; `what()` is the one line shown to the user.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    virtual int exit_code() const noexcept { return 2; }
};

/// Something the user gave us is wrong (pipeline file, command line, plugin, data, a second
/// run at once): nothing runs, exit code 2. A runner stops at one instead of failing a step.
class UserError : public Error {
public:
    using Error::Error;
};

/// The pipeline file is malformed or describes an impossible pipeline. Names the file and,
/// where it applies, the line.
class SpecError : public UserError {
public:
    SpecError(const std::string& file, int line, const std::string& message);
};

/// Bad command-line usage.
class UsageError : public UserError {
public:
    using UserError::UserError;
};

/// A plugin could not be found, loaded, or is incompatible.
class PluginError : public UserError {
public:
    using UserError::UserError;
};

/// The data cannot be taken as it is: a file name that cannot be recorded, folders that loop.
/// Like a bad pipeline file, it is the user's to fix, and nothing runs (exit code 2).
class InputError : public UserError {
public:
    using UserError::UserError;
};

/// A node failed while running (threw, or its process crashed). Retrying may help.
class NodeError : public Error {
public:
    using Error::Error;
    int exit_code() const noexcept override { return 1; }
};

/// On-disk state (slice plan, marker) is missing or unreadable.
class StateError : public Error {
public:
    using Error::Error;
    int exit_code() const noexcept override { return 1; }
};

}  // namespace steppar

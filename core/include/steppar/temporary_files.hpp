// Temporary files of atomic writes (atomic_file.hpp): how they are named, how a writer killed
// by a signal still removes its own, and how the ones of writers that died without a chance
// (SIGKILL, a power cut) are swept later.
//
//   "out/counts/a.json" is written as "out/counts/.a.json.steppar-tmp.<pid>.<n>"
//
// Hidden (a leading dot), unique per process and write, and naming their writer's pid: a sweep
// removes a temporary only when that process is gone.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace steppar {

/// A fresh temporary name beside `target` (same folder, so the final rename is atomic).
std::string temporary_name_for(const std::string& target);

/// True for the names temporary_name_for() gives (so listings can skip them).
bool is_temporary_name(std::string_view filename);

/// Records an open temporary file so that the handlers of remove_temporaries_on_termination_signals()
/// (signals.hpp) unlink it; returns a slot for unregister_temporary() (-1 when the fixed table is full: the
/// next sweep removes the file instead).
int register_temporary(const std::string& path);
/// The temporary was renamed or removed: forget it.
void unregister_temporary(int slot);

/// Unlinks every registered temporary file; async-signal-safe (a signal handler calls it).
void unlink_registered_temporaries() noexcept;

/// Removes `path`, a temporary file (by its name), when its writer process no longer exists;
/// true when it did.
bool remove_if_stale_temporary(const std::string& path);

/// Removes temporary files under `dir` (recursively) whose writer process no longer exists.
/// With `only_for`, looks only in `dir` itself and only for temporaries of that file name.
/// Returns how many were removed.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir, std::string_view only_for = {});

}  // namespace steppar

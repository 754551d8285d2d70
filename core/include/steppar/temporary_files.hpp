// Temporary files of atomic writes (atomic_file.hpp): how they are named, how a writer killed
// by a signal still removes its own, and how the ones of writers that died without a chance
// (SIGKILL, a power cut) are swept later.
//
//   "out/counts/a.json" is written as "out/counts/.a.json.steppar-tmp.<host>.<pid>.<n>"
//
// Hidden (a leading dot), unique per process and write. <host> is 16 lowercase hex digits, the
// XXH3 hash of the kernel's boot id (/proc/sys/kernel/random/boot_id) and the device and inode
// of the writer's pid namespace (/proc/self/ns/pid): a pid means something only on its machine
// and in its namespace, and an output folder may be shared by machines (a network filesystem)
// and by containers or `unshare -p` on one machine. <pid> is the writer's pid in that namespace,
// <n> counts the process's temporaries. A name longer than 255 bytes would result: the target's
// name is cut and tagged with a hash of the whole (temporary_name_for()).
//
// A sweep removes a temporary when
//   - its <host> is the sweeper's own and process <pid> is gone (or a zombie), or
//   - it was not modified for stale_temporary_hours() (spec.hpp: 24, STEPPAR_STALE_TEMPORARY_HOURS),
//     whoever wrote it: another machine's writer that died is noticed by no one else.
// Names of steppar before the host tag, ".<name>.steppar-tmp.<pid>.<n>", are still temporaries
// (never partitions), but nothing says where their pid lives: only the age removes them.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace steppar {

/// A fresh temporary name beside `target` (same folder, so the final rename is atomic).
std::string temporary_name_for(const std::string& target);

/// True for the names temporary_name_for() gives, and those of earlier releases (so listings
/// can skip them).
bool is_temporary_name(std::string_view filename);

/// This process's <host>: the 16 hex digits its temporary names carry. Without a readable /proc
/// it is random per process, so that no sweep takes another's pid for its own.
std::string temporary_host_tag();

/// Records an open temporary file so that the handlers of remove_temporaries_on_termination_signals()
/// (signals.hpp) unlink it; returns a slot for unregister_temporary() (-1 when the fixed table is full: the
/// next sweep removes the file instead).
int register_temporary(const std::string& path);
/// The temporary was renamed or removed: forget it.
void unregister_temporary(int slot);

/// Unlinks every registered temporary file; async-signal-safe (a signal handler calls it).
void unlink_registered_temporaries() noexcept;

/// Removes `path`, a temporary file (by its name), when it is stale (see above); true when it
/// did. Throws UsageError when STEPPAR_STALE_TEMPORARY_HOURS is set but not a limit.
bool remove_if_stale_temporary(const std::string& path);

/// Removes stale temporary files under `dir` (recursively).
/// With `only_for`, looks only in `dir` itself and only for temporaries of that file name.
/// Returns how many were removed. Throws UsageError as remove_if_stale_temporary() does.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir, std::string_view only_for = {});

}  // namespace steppar

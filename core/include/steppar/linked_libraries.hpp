// The shared libraries a loaded plugin needs, as the dynamic loader resolved them: its DT_NEEDED
// entries, theirs, and so on. A helper library rebuilt beside a plugin changes what the plugin
// computes without changing the plugin's own file, so the plugin's digest covers these too.
#pragma once

#include <filesystem>
#include <vector>

namespace steppar {

/// The files of every library `handle` (a dlopen handle) needs, directly or through others,
/// that lie outside the system's library folders (/lib, /lib64, /usr/lib, /usr/lib64): the
/// libraries a project builds or installs itself. Sorted, each once, resolved paths.
std::vector<std::filesystem::path> project_libraries_of(void* handle);

/// Whether `file` lies in a system library folder (whose libraries change with the system's
/// packages, not with a project).
bool in_system_library_folder(const std::filesystem::path& file);

}  // namespace steppar

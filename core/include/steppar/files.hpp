// Small file operations the engine shares: read a whole file, flush a filesystem, remove a
// file and the folders its removal emptied. Errors are StateError naming the file.
#pragma once

#include <filesystem>
#include <string>

namespace steppar {

/// Throws StateError "cannot WHAT 'PATH': <strerror(error)>".
[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path, int error);

/// Reads a whole file; throws StateError naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

/// Flushes every file written so far on the filesystem holding `path` to stable storage (one
/// syncfs per slice instead of one fsync per partition).
void sync_filesystem(const std::filesystem::path& path);

/// Removes the file `path`, then each folder the removal left empty, up to (not including) `root`:
/// a retracted partition leaves no empty folder that a clean run would not have made.
void remove_file_and_empty_folders(const std::string& path, const std::filesystem::path& root);

}  // namespace steppar

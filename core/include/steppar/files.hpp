// Small file operations the engine shares: read a whole file, flush a filesystem, remove a
// file and the folders its removal emptied. Errors are StateError naming the file.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

/// Throws StateError "cannot WHAT 'PATH': <strerror(error)>".
[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path, int error);

/// Reads a whole file; throws StateError naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

/// Flushes every file written so far on the filesystem holding `path` to stable storage (one
/// syncfs per slice instead of one fsync per partition). Throws StateError naming the folder and
/// the error (EIO, ENOSPC...) when the filesystem reports a failed write-back; a folder that does
/// not exist holds nothing to flush.
void sync_filesystem(const std::filesystem::path& path);

/// The write-back errors of one step's outputs. syncfs reports an error (EIO, ENOSPC) only when
/// it happened after its descriptor was opened, so the descriptors are opened before the step
/// writes anything, one per filesystem, and sync() at the end reports every failed write-back
/// since: then the outputs may not be on disk, and nothing may vouch for them.
class FilesystemSync {
public:
    /// Opens each folder (one descriptor per filesystem); a folder not there yet is opened by
    /// sync() instead.
    explicit FilesystemSync(std::vector<std::filesystem::path> folders);
    ~FilesystemSync();
    FilesystemSync(const FilesystemSync&) = delete;
    FilesystemSync& operator=(const FilesystemSync&) = delete;
    /// Flushes every filesystem; throws StateError naming the folder and the error.
    void sync();

private:
    std::vector<std::filesystem::path> folders_;
    std::vector<int> fds_;  ///< per folder: its descriptor, or -1 (another folder's filesystem, or not opened yet)
};

/// Removes the file `path`, then each folder the removal left empty, up to (not including) `root`:
/// a retracted partition leaves no empty folder that a clean run would not have made. A file
/// already gone is fine; any other failure throws StateError naming the file.
void remove_file_and_empty_folders(const std::string& path, const std::filesystem::path& root);

}  // namespace steppar

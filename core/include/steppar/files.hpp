// Small file operations the engine shares: read a whole file (at once, or in pieces),
// flush a filesystem, remove a file and the folders its removal emptied. Errors are StateError
// naming the file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// Throws StateError "cannot WHAT 'PATH': <strerror(error)>".
[[noreturn]] void throw_file_error(const std::string& what, const std::filesystem::path& path, int error);

/// Asks for transparent huge pages (2 MiB) under a large buffer that is about to be filled, so
/// that filling it costs a page fault per 2 MiB instead of one per 4 KiB (on a virtual machine a
/// fault can cost 10 us: 60 MB of a million partitions' names was 0.2 s of faults). Harmless
/// where the kernel does not do it.
void prefer_huge_pages(const void* data, std::size_t bytes) noexcept;
/// reserve(), then prefer_huge_pages() for the storage.
template <class Vector>
void reserve_huge(Vector& v, std::size_t count) {
    v.reserve(count);
    prefer_huge_pages(v.data(), v.capacity() * sizeof(typename Vector::value_type));
}

/// `path` made absolute with symbolic links and ".." resolved as far as it exists (the rest
/// normalized as written): two paths name the same place when these are equal.
std::filesystem::path resolved_path(const std::filesystem::path& path);
/// Whether `inner` is `outer` or lies under it, both resolved (resolved_path()).
bool same_or_inside(const std::filesystem::path& inner, const std::filesystem::path& outer);

/// Reads a whole file; throws StateError naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

/// A file read in pieces through one small buffer, for readers that look at each byte once and
/// keep little (a checksum, and a search for one name, over a ledger or a plan part of a million
/// partitions): a large file read whole costs a fresh allocation of its size. With `whole_lines`,
/// every piece ends with a line's '\n' (a line longer than the buffer grows it), except the
/// last one when the file does not end with one. The errors are read_file()'s.
class FilePieces {
public:
    explicit FilePieces(const std::filesystem::path& path, bool whole_lines = false);
    ~FilePieces();
    FilePieces(const FilePieces&) = delete;
    FilePieces& operator=(const FilePieces&) = delete;
    /// The file's size when opened (a hint: it may still grow).
    std::size_t size() const noexcept { return size_; }
    /// The next piece, valid until the next call; empty at the end.
    std::string_view next();

private:
    std::filesystem::path path_;
    int fd_ = -1;
    bool whole_lines_;
    std::size_t size_ = 0;
    std::vector<char> buffer_;
    std::size_t begin_ = 0, end_ = 0;  ///< bytes read but not handed out yet (a line begun)
};

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

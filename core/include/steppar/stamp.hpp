// File stamps: what steppar remembers of a file to notice, on the next run, that it changed.
//
// A stamp is the file's size, its modification time and its status-change time (ctime), both in
// nanoseconds. mtime alone is not enough: `cp -p`, `rsync -t` and `tar x` rewrite a file and
// then set its old mtime back, so a file can change and keep its size and mtime. ctime cannot
// be set by a program (the kernel sets it to "now" on every write, rename, chmod or utime), so a
// rewritten file always gets a new stamp. The price is a few false alarms: a `chmod` or a new
// hard link also changes ctime and reruns that partition, which is safe. No content is read, so
// a stamp costs one stat(2) however large the file is.
//
// On a network filesystem stat(2) may answer from the client's attribute cache (NFS keeps
// attributes 3 to 60 s by default), so a file appended on the server a moment ago would look
// unchanged. There (NFS, SMB/CIFS, FUSE such as sshfs, Ceph, Lustre, GPFS, 9p, AFS, ...) a stamp is
// read with open(2) + fstat(2): NFS revalidates a file's attributes on every open (close-to-open
// consistency). On a local filesystem it stays one stat(2).
//
// On disk (ledger.hpp) a stamp is "SIZE:MTIME:CTIME-MTIME" in lowercase hex (the ctime as its
// distance from the mtime, usually 0 or a few microseconds), or "-" for a missing file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace steppar {

struct FileStamp {
    std::int64_t size = -1;  ///< -1: the file does not exist
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;

    bool exists() const noexcept { return size >= 0; }
    bool operator==(const FileStamp&) const = default;
};

/// The stamp of `path` (following symbolic links); a missing or unreadable file has size -1.
FileStamp stamp_of(const char* path);
inline FileStamp stamp_of(const std::string& path) { return stamp_of(path.c_str()); }
/// The stamp of `name` relative to the open folder `dir_fd`.
FileStamp stamp_at(int dir_fd, const char* name);

/// Whether a filesystem (statfs's f_type) keeps attributes in a client cache that open(2)
/// revalidates: NFS, SMB/CIFS, FUSE, Ceph, Lustre, GPFS, 9p, AFS and the like.
bool is_network_filesystem(long statfs_magic);

/// Appends the stamp's text form ("-" when missing).
void append_stamp(std::string& out, const FileStamp& stamp);
/// Parses one stamp's text form; false when it is not one.
bool parse_stamp(std::string_view text, FileStamp& stamp);
/// A stamp's mtime as UTC, "2026-12-04T16:56:08.415692Z"; "" for a missing file.
std::string mtime_utc(const FileStamp& stamp);

}  // namespace steppar

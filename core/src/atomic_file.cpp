#include "steppar/atomic_file.hpp"
#include "steppar/owned_descriptor.hpp"

#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/temporary_files.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <utility>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

void ensure_parent(const fs::path& target) {
    std::error_code ec;
    if (!target.parent_path().empty()) fs::create_directories(target.parent_path(), ec);
    if (ec) throw StateError("cannot create folder '" + target.parent_path().string() + "': " + ec.message());
}

// Creates `path` (which must not exist yet) for writing; -1 and errno on failure. The folder is
// made only when the first try finds it missing: the first file of a new subfolder pays for it.
OwnedDescriptor standard_output_copy;  // set once, before any node runs

// open(2) returns the lowest free descriptor: 1 or 2 only when a node closed its stdout or
// stderr. An output must never sit there, or what the node (or the next one) prints would land
// in it: move it up, and put the step's output pipe back on 1 and 2.
int away_from_standard_streams(int fd) {
    if (fd < 0 || fd > 2) return fd;
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (high < 0) return fd;
    const int low = fd;
    ::close(low);
    // Not when a node closed the copy and its number names one of the node's files now.
    if (low != 0 && standard_output_copy.intact()) ::dup2(standard_output_copy.fd(), low);
    return high;
}

int create_new(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        ensure_parent(fs::path(path));
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    return away_from_standard_streams(fd);
}

FileStamp stamp_of_fd(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {};
    return {static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
            static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec};
}

// fsync of the folder holding `path`: a rename or a new file in it is on disk afterwards.
// When that cannot be promised, the file is taken back (a durable write is all or nothing: a
// marker that might vanish at a power cut must not vouch now) and the error names the folder.
void sync_folder_of(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int error = dir < 0 ? errno : ::fsync(dir) != 0 ? errno : 0;
    if (dir >= 0) ::close(dir);
    if (error == 0) return;
    ::unlink(path.c_str());
    throw_file_error("sync the folder of", path, error);
}

}  // namespace

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temporary_.empty() && !committed_) ::unlink(temporary_.c_str());
    unregister_temporary(cleanup_slot_);
}

bool AtomicFile::open_temporary() {
    temporary_ = temporary_name_for(target_);
    cleanup_slot_ = register_temporary(temporary_);
    fd_ = create_new(temporary_);
    if (fd_ < 0) error_ = errno;
    return fd_ >= 0;
}

bool AtomicFile::write_out(const char* data, std::size_t size) {
    if (error_) return false;
    if (fd_ < 0 && !open_temporary()) return false;
    while (size > 0) {
        const ssize_t n = ::write(fd_, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error_ = errno;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

int AtomicFile::descriptor() {
    if (error_ || !buffer_.flush_to_file() || (fd_ < 0 && !open_temporary())) return -1;
    return fd_;
}

bool AtomicFile::Buffer::flush_to_file() {
    const std::size_t n = pending();
    if (n == 0) return true;
    setp(space_.get(), space_.get() + capacity);
    return owner_.write_out(space_.get(), n);
}

AtomicFile::Buffer::int_type AtomicFile::Buffer::overflow(int_type c) {
    if (!space_) {
        space_ = std::make_unique_for_overwrite<char[]>(capacity);
        setp(space_.get(), space_.get() + capacity);
    } else if (!flush_to_file()) {
        return traits_type::eof();
    }
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
        *pptr() = traits_type::to_char_type(c);
        pbump(1);
    }
    return traits_type::not_eof(c);
}

std::streamsize AtomicFile::Buffer::xsputn(const char* data, std::streamsize size) {
    if (size <= 0) return 0;  // before the buffer exists pptr() is null, and memcpy(nullptr, ...) is undefined
    const auto room = epptr() - pptr();
    if (size <= room) {
        std::memcpy(pptr(), data, static_cast<std::size_t>(size));
        pbump(static_cast<int>(size));
        return size;
    }
    if (!space_ && static_cast<std::size_t>(size) < capacity) {
        overflow(traits_type::eof());  // allocates the buffer
        return xsputn(data, size);
    }
    // Larger than the room left: empty the buffer and write straight through.
    if (!flush_to_file() || !owner_.write_out(data, static_cast<std::size_t>(size))) return 0;
    return size;
}

// An output never written, with no file there yet, is created empty in place: an empty file
// cannot be half-written. An existing file is still replaced by rename, never truncated (it
// may be a hard link to something the user keeps).
bool AtomicFile::create_empty_in_place(bool durable) {
    const int fd = create_new(target_);
    if (fd < 0 && errno == EEXIST) return false;
    if (fd < 0) throw_file_error("create", target_, errno);
    if (durable && ::fsync(fd) != 0) {
        const int error = errno;
        ::close(fd);
        ::unlink(target_.c_str());
        throw_file_error("sync", target_, error);
    }
    stamp_ = stamp_of_fd(fd);
    ::close(fd);
    if (durable) sync_folder_of(target_);
    return true;
}

void AtomicFile::commit(Durability durability) {
    const bool durable = durability == Durability::durable;
    if (fd_ < 0 && error_ == 0 && buffer_.pending() == 0 && create_empty_in_place(durable)) {
        committed_ = true;
        return;
    }
    if (!stream_.good() || !buffer_.flush_to_file() || (fd_ < 0 && !open_temporary()))
        throw_file_error(fd_ < 0 ? "create" : "write", temporary_.empty() ? target_ : temporary_, error_ ? error_ : EIO);
    // Durable: the data reaches the disk before the rename publishes it.
    if (durable && ::fsync(fd_) != 0) throw_file_error("sync", temporary_, errno);  // the destructor removes the temporary
    const int fd = std::exchange(fd_, -1);
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) {
        const int error = errno;
        ::close(fd);
        throw_file_error("rename onto", target_, error);
    }
    // The stamp as the ledger records it: after the rename (which sets ctime), from the open
    // descriptor (no second path lookup). A close that reports a late write error takes the
    // published file back: a missing output is made again, a damaged one would not be.
    stamp_ = stamp_of_fd(fd);
    if (::close(fd) != 0) {
        const int error = errno;
        ::unlink(target_.c_str());
        throw_file_error("write", target_, error);
    }
    committed_ = true;
    unregister_temporary(cleanup_slot_);
    cleanup_slot_ = -1;
    if (durable) sync_folder_of(target_);  // and the rename itself survives a power cut
}

void write_file_atomically(const fs::path& target, std::string_view content, AtomicFile::Durability durability) {
    AtomicFile file(target);
    file.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
    file.commit(durability);
}

void keep_standard_streams(int output_copy) { standard_output_copy = OwnedDescriptor(output_copy); }

}  // namespace steppar

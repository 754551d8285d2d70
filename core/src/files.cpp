#include "steppar/files.hpp"

#include "steppar/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

void throw_file_error(const std::string& what, const fs::path& path, int error) {
    throw StateError("cannot " + what + " '" + path.string() + "': " + std::strerror(error));
}

void remove_file_and_empty_folders(const std::string& path, const fs::path& root) {
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return;  // already gone: what was asked
        throw_file_error("remove", path, errno);
    }
    const fs::path stop = root.lexically_normal();
    for (fs::path dir = fs::path(path).parent_path().lexically_normal();
         !dir.empty() && dir != stop && dir.native().size() > stop.native().size(); dir = dir.parent_path())
        if (::rmdir(dir.c_str()) != 0) break;  // not empty: done
}

FilePieces::FilePieces(const fs::path& path, bool whole_lines) : path_(path), whole_lines_(whole_lines), buffer_(65536) {
    // POSIX calls, not a stream: a read error (EIO, a folder's EISDIR) must never pass as a
    // short or empty file.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_file_error("open", path, errno);
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size > 0) size_ = static_cast<std::size_t>(st.st_size);
}

FilePieces::~FilePieces() {
    if (fd_ >= 0) ::close(fd_);
}

std::string_view FilePieces::next() {
    // What was not handed out (a line begun) moves to the front, and the next read goes after it.
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    for (;;) {
        if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
        const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_file_error("read", path_, errno);
        const auto got = static_cast<std::size_t>(n);
        if (got == 0 || !whole_lines_) {
            end_ += got;
            begin_ = end_;
            return {buffer_.data(), end_};  // at the end: whatever is left, a whole line or not
        }
        // Only the new bytes can hold a '\n': what was left holds none.
        const void* last = ::memrchr(buffer_.data() + end_, '\n', got);
        end_ += got;
        if (last) {
            begin_ = static_cast<std::size_t>(static_cast<const char*>(last) - buffer_.data()) + 1;
            return {buffer_.data(), begin_};
        }
    }
}

fs::path resolved_path(const fs::path& path) {
    std::error_code ec;
    const fs::path absolute = fs::absolute(path, ec);
    fs::path real = fs::weakly_canonical(absolute, ec);
    return ec ? absolute.lexically_normal() : real;
}

bool same_or_inside(const fs::path& inner, const fs::path& outer) {
    const fs::path a = resolved_path(inner), b = resolved_path(outer);
    auto ai = a.begin();
    for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
        if (bi->empty()) continue;  // trailing separator
        if (ai == a.end() || *ai != *bi) return false;
    }
    return true;
}

void prefer_huge_pages(const void* data, std::size_t bytes) noexcept {
    constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
    const auto start = reinterpret_cast<std::uintptr_t>(data);
    const std::uintptr_t begin = (start + huge - 1) & ~(huge - 1), end = (start + bytes) & ~(huge - 1);
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

std::string read_file(const fs::path& path) {
    FilePieces file(path);
    std::string text;
    text.reserve(file.size());
    prefer_huge_pages(text.data(), text.capacity());
    for (std::string_view piece = file.next(); !piece.empty(); piece = file.next()) text.append(piece);
    return text;
}

void sync_filesystem(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return;  // nothing was written there
        throw_file_error("open for syncing", path, errno);
    }
    // syncfs reports a write-back error (EIO, ENOSPC) that happened since this descriptor was
    // opened (Linux 5.8+): the outputs may not be on disk, so nothing may vouch for them.
    const int error = ::syncfs(fd) != 0 ? errno : 0;
    ::close(fd);
    if (error) throw_file_error("sync the filesystem holding", path, error);
}

FilesystemSync::FilesystemSync(std::vector<fs::path> folders) : folders_(std::move(folders)), fds_(folders_.size(), -1) {
    std::vector<dev_t> seen;
    for (std::size_t i = 0; i < folders_.size(); ++i) {
        struct stat st {};
        if (::stat(folders_[i].c_str(), &st) != 0) continue;  // made later: opened by sync()
        if (std::find(seen.begin(), seen.end(), st.st_dev) != seen.end()) {
            fds_[i] = -2;  // flushed with an earlier folder's filesystem
            continue;
        }
        seen.push_back(st.st_dev);
        fds_[i] = ::open(folders_[i].c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
}

FilesystemSync::~FilesystemSync() {
    for (const int fd : fds_)
        if (fd >= 0) ::close(fd);
}

void FilesystemSync::sync() {
    for (std::size_t i = 0; i < folders_.size(); ++i) {
        if (fds_[i] == -2) continue;
        if (fds_[i] < 0) {
            sync_filesystem(folders_[i]);
            continue;
        }
        if (::syncfs(fds_[i]) != 0) throw_file_error("sync the filesystem holding", folders_[i], errno);
    }
}

}  // namespace steppar

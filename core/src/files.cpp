#include "steppar/files.hpp"

#include "steppar/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
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

std::string read_file(const fs::path& path) {
    // POSIX calls, not a stream: a read error (EIO, a folder's EISDIR) must never pass as a
    // short or empty file.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_file_error("open", path, errno);
    std::string text;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) text.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) break;
        if (errno == EINTR) continue;
        const int error = errno;
        ::close(fd);
        throw_file_error("read", path, error);
    }
    ::close(fd);
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

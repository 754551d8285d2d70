#include "steppar/stamp.hpp"

#include "steppar/text.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace steppar {
namespace {

FileStamp from_stat(const struct stat& st) {
    FileStamp s;
    s.size = static_cast<std::int64_t>(st.st_size);
    s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    s.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
    return s;
}

void append_hex(std::string& out, std::int64_t value) {
    char buffer[24];
    const bool negative = value < 0;
    const auto magnitude = negative ? -static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, magnitude, 16).ptr;
    if (negative) out.push_back('~');  // a ctime before its mtime (a clock set back)
    out.append(buffer, end);
}

bool parse_hex(std::string_view text, std::int64_t& value) {
    bool negative = false;
    if (!text.empty() && text.front() == '~') {
        negative = true;
        text.remove_prefix(1);
    }
    std::uint64_t magnitude = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), magnitude, 16);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) return false;
    value = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
    return true;
}

}  // namespace

bool is_network_filesystem(long magic) {
    switch (static_cast<unsigned long>(magic) & 0xFFFFFFFFul) {
        case 0x6969:      // NFS
        case 0x517B:      // SMB
        case 0xFF534D42:  // CIFS
        case 0xFE534D42:  // SMB2
        case 0x65735546:  // FUSE (sshfs, s3fs, gcsfuse, ...)
        case 0x00C36400:  // Ceph
        case 0x01021997:  // 9p
        case 0x5346414F:  // AFS
        case 0x6B414653:  // kAFS
        case 0x73757245:  // Coda
        case 0x47504653:  // GPFS
        case 0x0BD00BD0:  // Lustre
        case 0x7461636F:  // OCFS2
        case 0x01161970:  // GFS2
        case 0x20030528:  // OrangeFS / PVFS2
            return true;
        default:
            return false;
    }
}

namespace {

// Per thread, per device: whether files there need open + fstat (see stamp.hpp). A scan meets
// one or two devices; statfs is asked once for each.
bool needs_revalidation(dev_t device, const std::function<long()>& magic) {
    thread_local std::vector<std::pair<dev_t, bool>> known;
    for (const auto& [dev, network] : known)
        if (dev == device) return network;
    const bool network = is_network_filesystem(magic());
    known.emplace_back(device, network);
    return network;
}

// The attributes as the server has them now: NFS revalidates on open (close-to-open).
bool revalidated(int fd, struct stat& st) {
    if (fd < 0) return false;
    const bool ok = ::fstat(fd, &st) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

FileStamp stamp_of(const char* path) {
    struct stat st {};
    if (::stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return {};
    if (needs_revalidation(st.st_dev, [&] {
            struct statfs fs {};
            return ::statfs(path, &fs) == 0 ? static_cast<long>(fs.f_type) : 0L;
        }) &&
        !revalidated(::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), st))
        return {};
    return from_stat(st);
}

FileStamp stamp_at(int dir_fd, const char* name) {
    struct stat st {};
    if (::fstatat(dir_fd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) return {};
    if (needs_revalidation(st.st_dev, [&] {
            struct statfs fs {};
            return ::fstatfs(dir_fd, &fs) == 0 ? static_cast<long>(fs.f_type) : 0L;
        }) &&
        !revalidated(::openat(dir_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), st))
        return {};
    return from_stat(st);
}

void append_stamp(std::string& out, const FileStamp& stamp) {
    if (!stamp.exists()) {
        out.push_back('-');
        return;
    }
    append_hex(out, stamp.size);
    out.push_back(':');
    append_hex(out, stamp.mtime_ns);
    out.push_back(':');
    append_hex(out, stamp.ctime_ns - stamp.mtime_ns);
}

bool parse_stamp(std::string_view text, FileStamp& stamp) {
    if (text == "-") {
        stamp = {};
        return true;
    }
    const auto first = text.find(':');
    const auto second = first == std::string_view::npos ? first : text.find(':', first + 1);
    if (second == std::string_view::npos) return false;
    std::int64_t delta = 0;
    if (!parse_hex(text.substr(0, first), stamp.size) || stamp.size < 0 ||
        !parse_hex(text.substr(first + 1, second - first - 1), stamp.mtime_ns) || !parse_hex(text.substr(second + 1), delta))
        return false;
    stamp.ctime_ns = stamp.mtime_ns + delta;
    return true;
}

std::string mtime_utc(const FileStamp& stamp) {
    if (!stamp.exists()) return {};
    return utc_text(stamp.mtime_ns / 1000);
}

}  // namespace steppar

#include "steppar/atomic_file.hpp"

#include "steppar/error.hpp"

#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <fstream>
#include <sstream>
#include <utility>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

constexpr std::string_view temporary_marker = ".steppar-tmp.";

// getpid() is a system call, and a temporary name is made per output file; the fork server's
// children must not keep their parent's pid, hence the reset after fork.
std::atomic<pid_t> cached_pid{0};
void forget_pid() { cached_pid.store(0); }
pid_t own_pid() {
    pid_t pid = cached_pid.load();
    if (pid == 0) {
        static const bool registered = (::pthread_atfork(nullptr, nullptr, forget_pid), true);
        (void)registered;
        pid = ::getpid();
        cached_pid.store(pid);
    }
    return pid;
}

// ".<name>": the start of every temporary of `name`. A file name may use all 255 bytes a folder
// entry holds, and the temporary adds the marker, a pid and a counter, so a long name is cut and
// a hash of the whole name keeps temporaries of different long names apart.
std::string temporary_stem(std::string_view name) {
    constexpr std::size_t room = 255 - 1 - temporary_marker.size() - 2 * 20 - 1;  // dot, marker, pid, '.', counter
    std::string stem = ".";
    if (name.size() <= room) return stem.append(name);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(XXH3_64bits(name.data(), name.size())));
    std::size_t keep = room - 17;
    while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;  // whole UTF-8 characters
    return stem.append(name.substr(0, keep)).append("~").append(hash);
}

std::string temporary_for(const std::string& target) {
    static std::atomic<unsigned long> counter{0};
    // Hidden (leading dot) and unique per process and call: two writers never share a temp file.
    const auto slash = target.rfind('/');
    const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
    std::string temporary = target.substr(0, name_at);
    temporary.append(temporary_stem(std::string_view(target).substr(name_at))).append(temporary_marker);
    temporary.append(std::to_string(own_pid())).push_back('.');
    temporary.append(std::to_string(counter++));
    return temporary;
}

// Paths of open temporary files, readable from a signal handler (fixed storage, atomic flags).
constexpr int cleanup_slots = 64;
struct CleanupSlot {
    std::atomic<bool> used{false};
    char path[4096] = {};
};
CleanupSlot cleanup_table[cleanup_slots];

int register_for_cleanup(const std::string& text) {
    if (text.size() >= sizeof(CleanupSlot::path)) return -1;
    for (int i = 0; i < cleanup_slots; ++i) {
        bool expected = false;
        if (cleanup_table[i].used.load() || !cleanup_table[i].used.compare_exchange_strong(expected, true)) continue;
        // Publish the path before the handler can see it: the slot is "used" with an empty path
        // until the final byte lands, and unlink("") is harmless.
        cleanup_table[i].path[0] = '\0';
        std::memcpy(cleanup_table[i].path + 1, text.c_str() + 1, text.size());
        std::atomic_signal_fence(std::memory_order_seq_cst);
        cleanup_table[i].path[0] = text[0];
        return i;
    }
    return -1;  // all slots busy: the next run's stale-temporary sweep removes the file instead
}

void unregister_for_cleanup(int slot) {
    if (slot < 0) return;
    cleanup_table[slot].path[0] = '\0';
    std::atomic_signal_fence(std::memory_order_seq_cst);
    cleanup_table[slot].used.store(false);
}

extern "C" void remove_temporaries_and_die(int signal) {
    for (auto& slot : cleanup_table)
        if (slot.used.load() && slot.path[0] != '\0') ::unlink(slot.path);
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

[[noreturn]] void fail(const std::string& what, const fs::path& path, int error) {
    throw StateError("cannot " + what + " '" + path.string() + "': " + std::strerror(error));
}

void ensure_parent(const fs::path& target) {
    std::error_code ec;
    if (!target.parent_path().empty()) fs::create_directories(target.parent_path(), ec);
    if (ec) throw StateError("cannot create folder '" + target.parent_path().string() + "': " + ec.message());
}

// Creates `path` (which must not exist yet) for writing; -1 and errno on failure. The folder is
// made only when the first try finds it missing: the first file of a new subfolder pays for it.
std::atomic<int> standard_output_copy{-1};

// open(2) returns the lowest free descriptor: 1 or 2 only when a node closed its stdout or
// stderr. An output must never sit there, or what the node (or the next one) prints would land
// in it: move it up, and put the step's output pipe back on 1 and 2.
int away_from_standard_streams(int fd) {
    if (fd < 0 || fd > 2) return fd;
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (high < 0) return fd;
    const int low = fd;
    ::close(low);
    const int copy = standard_output_copy.load();
    if (copy >= 0 && low != 0) ::dup2(copy, low);
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

}  // namespace

AtomicFile::AtomicFile(std::string target) : target_(std::move(target)) {}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temporary_.empty() && !committed_) ::unlink(temporary_.c_str());
    unregister_for_cleanup(cleanup_slot_);
}

bool AtomicFile::open_temporary() {
    temporary_ = temporary_for(target_);
    cleanup_slot_ = register_for_cleanup(temporary_);
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
namespace {

FileStamp stamp_of_fd(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {};
    return {static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
            static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec};
}

}  // namespace

bool AtomicFile::create_empty_in_place() {
    const int fd = create_new(target_);
    if (fd < 0 && errno == EEXIST) return false;
    if (fd < 0) fail("create", target_, errno);
    stamp_ = stamp_of_fd(fd);
    ::close(fd);
    return true;
}

void AtomicFile::commit() {
    if (fd_ < 0 && error_ == 0 && buffer_.pending() == 0 && create_empty_in_place()) {
        committed_ = true;
        return;
    }
    if (!stream_.good() || !buffer_.flush_to_file() || (fd_ < 0 && !open_temporary()))
        fail(fd_ < 0 ? "create" : "write", temporary_.empty() ? target_ : temporary_, error_ ? error_ : EIO);
    const int fd = std::exchange(fd_, -1);
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) {
        const int error = errno;
        ::close(fd);
        fail("rename onto", target_, error);
    }
    // The stamp as the ledger records it: after the rename (which sets ctime), from the open
    // descriptor (no second path lookup). A close that reports a late write error takes the
    // published file back: a missing output is made again, a damaged one would not be.
    stamp_ = stamp_of_fd(fd);
    if (::close(fd) != 0) {
        const int error = errno;
        ::unlink(target_.c_str());
        fail("write", target_, error);
    }
    committed_ = true;
    unregister_for_cleanup(cleanup_slot_);
    cleanup_slot_ = -1;
}

bool AtomicFile::is_temporary_name(std::string_view filename) {
    return !filename.empty() && filename.front() == '.' && filename.find(temporary_marker) != std::string_view::npos;
}

void write_file_atomically(const fs::path& target, std::string_view content, bool durable) {
    ensure_parent(target);
    const fs::path temporary = temporary_for(target.string());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("create", temporary, errno);
    const char* data = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            fail("write", temporary, error);
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    if (durable && ::fsync(fd) != 0) {
        const int error = errno;
        ::close(fd);
        ::unlink(temporary.c_str());
        fail("sync", temporary, error);
    }
    ::close(fd);
    if (::rename(temporary.c_str(), target.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        fail("rename onto", target, error);
    }
    if (durable) {
        const int dir = ::open(target.parent_path().empty() ? "." : target.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
        if (dir >= 0) {
            ::fsync(dir);
            ::close(dir);
        }
    }
}

void remove_temporaries_on_termination_signals() {
    // Crashes too: the handler only unlinks and re-raises, so the process still dies of the
    // same signal (and dumps core where enabled).
    for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
        struct sigaction action = {};
        action.sa_handler = remove_temporaries_and_die;
        action.sa_flags = SA_RESETHAND | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        ::sigaction(signal, &action, nullptr);
    }
}

namespace {

// Whether the writer of a temporary may still write it. A zombie (dead, not yet reaped: its
// parent was killed and init has not come round) answers kill(pid, 0) but writes nothing.
bool writer_alive(long pid) {
    if (pid <= 0) return false;
    if (!(::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto paren = line.rfind(')');  // the command name may hold spaces and parentheses
    return !(paren != std::string::npos && paren + 2 < line.size() && (line[paren + 2] == 'Z' || line[paren + 2] == 'X'));
}

}  // namespace

void keep_standard_streams(int output_copy) { standard_output_copy = output_copy; }

bool remove_if_stale_temporary(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string_view name = std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    if (!AtomicFile::is_temporary_name(name)) return false;
    // ".<target>.steppar-tmp.<pid>.<n>": only a writer that is gone leaves a stale file.
    const auto at = name.rfind(temporary_marker);
    const long pid = std::strtol(std::string(name.substr(at + temporary_marker.size())).c_str(), nullptr, 10);
    if (writer_alive(pid)) return false;
    return ::unlink(path.c_str()) == 0;
}

std::size_t remove_stale_temporaries(const fs::path& dir, std::string_view only_for) {
    std::size_t removed = 0;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return 0;
    const std::string prefix = temporary_stem(only_for) + std::string(temporary_marker);
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!only_for.empty()) it.disable_recursion_pending();
        const std::string name = it->path().filename().string();
        if (!AtomicFile::is_temporary_name(name)) continue;
        if (!only_for.empty() && name.rfind(prefix, 0) != 0) continue;
        // ".<target>.steppar-tmp.<pid>.<n>": only a writer that is gone leaves a stale file.
        const auto at = name.rfind(temporary_marker);
        const long pid = std::strtol(name.c_str() + at + temporary_marker.size(), nullptr, 10);
        if (writer_alive(pid)) continue;
        std::error_code ignored;
        if (fs::remove(it->path(), ignored)) ++removed;
    }
    return removed;
}

void remove_file_and_empty_folders(const std::string& path, const fs::path& root) {
    if (::unlink(path.c_str()) != 0) return;
    const fs::path stop = root.lexically_normal();
    for (fs::path dir = fs::path(path).parent_path().lexically_normal();
         !dir.empty() && dir != stop && dir.native().size() > stop.native().size(); dir = dir.parent_path())
        if (::rmdir(dir.c_str()) != 0) break;  // not empty: done
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("open", path, errno);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) fail("read", path, errno);
    return buffer.str();
}

void sync_filesystem(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // nothing was written there
    ::syncfs(fd);
    ::close(fd);
}

}  // namespace steppar

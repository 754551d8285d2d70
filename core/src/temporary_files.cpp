#include "steppar/temporary_files.hpp"

#include "steppar/spec.hpp"  // stale_temporary_hours()

#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <csignal>  // kill(pid, 0)
#include <cstring>
#include <ctime>
#include <fstream>
#include <pthread.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

constexpr std::string_view temporary_marker = ".steppar-tmp.";
constexpr std::size_t host_tag_digits = 16;

// getpid() is a system call, and a temporary name is made per output file; the fork server's
// children must not keep their parent's pid, hence the reset after fork. The host tag is reset
// too: a child forked after unshare(CLONE_NEWPID) lives in another pid namespace.
std::atomic<pid_t> cached_pid{0};
std::atomic<std::uint64_t> cached_host{0};  // 0: not known yet
void forget_process_identity() {
    cached_pid.store(0);
    cached_host.store(0);
}
void forget_at_fork() {  // registers, once, the reset of a child
    static const bool registered = (::pthread_atfork(nullptr, nullptr, forget_process_identity), true);
    (void)registered;
}
pid_t own_pid() {
    pid_t pid = cached_pid.load();
    if (pid == 0) {
        forget_at_fork();
        pid = ::getpid();
        cached_pid.store(pid);
    }
    return pid;
}

// Who may judge a temporary's pid: the same kernel boot (a random id, so two machines differ)
// and the same pid namespace (its inode; two containers on one machine differ). An inode is
// reused only after its namespace ended, and then all of that namespace's writers are gone.
std::uint64_t read_host_identity() {
    std::string identity;
    std::ifstream boot("/proc/sys/kernel/random/boot_id");
    struct stat ns {};
    if (std::getline(boot, identity) && !identity.empty() && ::stat("/proc/self/ns/pid", &ns) == 0) {
        identity += '/' + std::to_string(ns.st_dev) + '/' + std::to_string(ns.st_ino);
        return XXH3_64bits(identity.data(), identity.size());
    }
    std::random_device random;  // nobody's tag: only the age removes what this process leaves
    return (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

std::uint64_t own_host() {
    std::uint64_t host = cached_host.load();
    if (host == 0) {
        forget_at_fork();
        std::uint64_t found = read_host_identity();
        if (found == 0) found = 1;
        cached_host.compare_exchange_strong(host, found);  // a racing thread's (equal) value wins as well
        host = cached_host.load();
    }
    return host;
}

void format_host(std::uint64_t host, char (&text)[host_tag_digits + 1]) {
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(host));
}

// ".<name>": the start of every temporary of `name`. A file name may use all 255 bytes a folder
// entry holds, and the temporary adds the marker, the host tag, a pid and a counter, so a long
// name is cut and a hash of the whole name keeps temporaries of different long names apart.
std::string temporary_stem(std::string_view name) {
    constexpr std::size_t room = 255 - 1 - temporary_marker.size() - host_tag_digits - 1 - 20 - 1 - 20;  // dot, marker, host, '.', pid, '.', counter
    std::string stem = ".";
    if (name.size() <= room) return stem.append(name);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(XXH3_64bits(name.data(), name.size())));
    std::size_t keep = room - 17;
    while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;  // whole UTF-8 characters
    return stem.append(name.substr(0, keep)).append("~").append(hash);
}

}  // namespace

std::string temporary_host_tag() {
    char text[host_tag_digits + 1];
    format_host(own_host(), text);
    return text;
}

std::string temporary_name_for(const std::string& target) {
    static std::atomic<unsigned long> counter{0};
    // Hidden (leading dot) and unique per process and call: two writers never share a temp file.
    const auto slash = target.rfind('/');
    const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
    std::string temporary = target.substr(0, name_at);
    temporary.append(temporary_stem(std::string_view(target).substr(name_at))).append(temporary_marker);
    char host[host_tag_digits + 1];
    format_host(own_host(), host);
    temporary.append(host, host_tag_digits).push_back('.');
    temporary.append(std::to_string(own_pid())).push_back('.');
    temporary.append(std::to_string(counter++));
    return temporary;
}

bool is_temporary_name(std::string_view filename) {
    // Any hidden name with the marker: today's, and the host-less ones of earlier releases.
    return !filename.empty() && filename.front() == '.' && filename.find(temporary_marker) != std::string_view::npos;
}

namespace {

// Paths of open temporary files, readable from a signal handler (fixed storage, atomic flags).
constexpr int cleanup_slots = 64;
struct CleanupSlot {
    std::atomic<bool> used{false};
    char path[4096] = {};
};
CleanupSlot cleanup_table[cleanup_slots];

}  // namespace

int register_temporary(const std::string& text) {
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

void unregister_temporary(int slot) {
    if (slot < 0) return;
    cleanup_table[slot].path[0] = '\0';
    std::atomic_signal_fence(std::memory_order_seq_cst);
    cleanup_table[slot].used.store(false);
}

void unlink_registered_temporaries() noexcept {
    for (auto& slot : cleanup_table)
        if (slot.used.load() && slot.path[0] != '\0') ::unlink(slot.path);
}

namespace {

// Whether /proc shows our own pid namespace (`unshare -p -f` without --mount-proc leaves the
// old one mounted, where /proc/<pid> is somebody else).
bool proc_is_ours() {
    char link[32] = {};
    const ssize_t n = ::readlink("/proc/self", link, sizeof link - 1);
    return n > 0 && std::string_view(link, static_cast<std::size_t>(n)) == std::to_string(::getpid());
}

// Whether the writer of a temporary may still write it. A zombie (dead, not yet reaped: its
// parent was killed and init has not come round) answers kill(pid, 0) but writes nothing.
bool writer_alive(long pid) {
    if (pid <= 0) return false;
    if (!(::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) return false;
    if (!proc_is_ours()) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const auto paren = line.rfind(')');  // the command name may hold spaces and parentheses
    return !(paren != std::string::npos && paren + 2 < line.size() && (line[paren + 2] == 'Z' || line[paren + 2] == 'X'));
}

// The writer's pid when `name` (".<stem>.steppar-tmp.<host>.<pid>.<n>") carries this process's
// host tag, else 0: another machine's or pid namespace's, a host-less name of an earlier
// release, or a name that is not quite ours. Only such a pid can be asked whether it lives.
long pid_of_own_writer(std::string_view name) {
    const auto at = name.rfind(temporary_marker);
    if (at == std::string_view::npos) return 0;
    std::string_view rest = name.substr(at + temporary_marker.size());
    char host[host_tag_digits + 1];
    format_host(own_host(), host);
    if (rest.size() <= host_tag_digits || rest.substr(0, host_tag_digits) != host || rest[host_tag_digits] != '.') return 0;
    rest.remove_prefix(host_tag_digits + 1);
    const auto dot = rest.find('.');
    if (dot == 0 || dot == std::string_view::npos || dot > 10) return 0;
    long pid = 0;
    for (const char c : rest.substr(0, dot)) {
        if (c < '0' || c > '9') return 0;
        pid = pid * 10 + (c - '0');
    }
    return pid;
}

// A temporary no writer will finish: its writer (ours to ask) is gone, or nobody touched it
// for `max_age_seconds` (a dead writer elsewhere, an old release's, a pid reused since).
bool is_stale(const std::string& path, std::string_view name, long long max_age_seconds) {
    const long pid = pid_of_own_writer(name);
    if (pid > 0 && !writer_alive(pid)) return true;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return false;
    return static_cast<long long>(std::time(nullptr)) - static_cast<long long>(st.st_mtim.tv_sec) > max_age_seconds;
}

// In seconds: up to INT_MAX hours, more than a count of nanoseconds holds.
long long stale_age_seconds() { return static_cast<long long>(stale_temporary_hours()) * 3600; }

}  // namespace

bool remove_if_stale_temporary(const std::string& path) {
    const long long max_age = stale_age_seconds();
    const auto slash = path.rfind('/');
    const std::string_view name = std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    if (!is_temporary_name(name) || !is_stale(path, name, max_age)) return false;
    return ::unlink(path.c_str()) == 0;
}

std::size_t remove_stale_temporaries(const fs::path& dir, std::string_view only_for) {
    const long long max_age = stale_age_seconds();
    std::size_t removed = 0;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return 0;
    const std::string prefix = temporary_stem(only_for) + std::string(temporary_marker);
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!only_for.empty()) it.disable_recursion_pending();
        const std::string name = it->path().filename().string();
        if (!is_temporary_name(name)) continue;
        if (!only_for.empty() && name.rfind(prefix, 0) != 0) continue;
        if (!is_stale(it->path().string(), name, max_age)) continue;
        std::error_code ignored;
        if (fs::remove(it->path(), ignored)) ++removed;
    }
    return removed;
}

}  // namespace steppar

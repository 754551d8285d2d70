#include "steppar/temporary_files.hpp"

#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <csignal>  // kill(pid, 0)
#include <cstring>
#include <fstream>
#include <pthread.h>
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

}  // namespace

std::string temporary_name_for(const std::string& target) {
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

bool is_temporary_name(std::string_view filename) {
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

bool remove_if_stale_temporary(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string_view name = std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    if (!is_temporary_name(name)) return false;
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
        if (!is_temporary_name(name)) continue;
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

}  // namespace steppar

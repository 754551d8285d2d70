// What tells `steppar-host watch` that folders changed, without reading them: the kernel.
//
//   fanotify  one mark on each filesystem that holds a watched folder (FAN_MARK_FILESYSTEM,
//             FAN_REPORT_DFID_NAME): no watch per folder, nothing crawled at setup. Needs
//             CAP_SYS_ADMIN (root) and a filesystem that reports file ids (ext4, xfs, btrfs,
//             tmpfs on recent kernels); events of other folders on the same filesystem are
//             dropped by path.
//   inotify   one watch per folder, added as folders appear; limited by
//             /proc/sys/fs/inotify/max_user_watches.
//   poll      no kernel help: every `interval` the folders are walked and their files stat'ed;
//             a difference from the last walk is a change.
//
// A source only says *that* something changed under a folder (and which paths, as far as the
// kernel told): what to run is decided by the exact scan of the run it triggers, so a missed or
// merged event can only delay a run, never make it wrong. When the kernel lost events (a queue
// overflow, a watch that went away) the source says so and the next run is a full one anyway.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace steppar {

enum class WatchBackend { automatic, fanotify, inotify, poll };

/// "auto", "fanotify", "inotify", "poll"; the parser throws UsageError for another word.
const char* to_string(WatchBackend backend);
WatchBackend parse_watch_backend(const std::string& word);

/// What a source saw since it was last asked.
struct Changes {
    std::vector<std::string> paths;  ///< changed paths in watched folders as the kernel named them (at most a few listed)
    std::size_t events = 0;          ///< how many events in watched folders (or, for poll, changed files)
    bool lost = false;               ///< events were lost: queue overflow, a watch gone
    std::string why_lost;            ///< for the log
    /// Every changed path, in watched and in followed folders, while `complete`: what a run can
    /// look at instead of walking (watched_scan.hpp). Not complete past `max_changed` paths,
    /// after lost events, or from a source that cannot name paths (poll).
    std::vector<std::string> changed;
    bool complete = true;
    static constexpr std::size_t max_changed = 100000;

    bool any() const { return events > 0 || lost; }
    /// Adds what `more` saw (keeping a few paths for the log).
    void merge(Changes&& more);
};

/// Descriptors that end a wait when readable (-1: none).
struct WakeFds {
    int first = -1, second = -1;
    WakeFds(int a = -1, int b = -1) : first(a), second(b) {}
};

class ChangeSource {
public:
    virtual ~ChangeSource() = default;
    /// Waits up to `timeout` for changes and returns them (maybe none). Returns early, with
    /// none, when a wake fd (e.g. a signal's self-pipe, a child's pidfd; -1: none) becomes readable.
    virtual Changes wait(std::chrono::milliseconds timeout, WakeFds wake) = 0;
    virtual WatchBackend backend() const = 0;
    /// One line for the log: what is watched and how ("inotify, 1,003 folders").
    virtual std::string describe() const = 0;
};

/// A source over `folders` (each watched with everything under it; a folder that does not exist
/// yet is watched from its nearest existing parent), also following `followed`: their changes
/// are only listed in Changes::changed (a run's own outputs must not start the next run). `automatic` tries fanotify, then inotify,
/// then poll, and says in `fallback` why it did not use the ones before (empty when it did).
/// Throws UsageError when an explicitly asked backend cannot run here, saying why.
std::unique_ptr<ChangeSource> open_change_source(const std::vector<std::filesystem::path>& folders,
                                                 const std::vector<std::filesystem::path>& followed, WatchBackend backend,
                                                 std::chrono::milliseconds poll_interval, std::string* fallback = nullptr);

}  // namespace steppar

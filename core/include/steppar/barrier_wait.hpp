// Waiting at a barrier: block until every slice of a multinode's current plan has left its
// marker, then let check_barrier() judge them. This is what a barrier job does on an engine
// that cannot chain jobs by dependency (`steppar-host check-barrier --wait`), e.g. a
// Kubernetes Job applied together with the slices' Indexed Job.
//
// Markers are renamed into place, so inotify (IN_MOVED_TO) wakes the waiter within a
// millisecond of the last one. On shared filesystems (NFS, Lustre) inotify sees nothing that
// other machines write, so the folder is also scanned every `scan_interval_seconds`.
#pragma once

#include "steppar/project.hpp"

namespace steppar {

struct BarrierWait {
    double timeout_seconds = 0;        ///< give up (NodeError) after this long; 0: wait for ever
    double scan_interval_seconds = 1;  ///< the fallback scan; also the only way with use_inotify off
    bool use_inotify = true;
};

/// Watches one unit's markers folder from construction on, so no marker written after it can
/// be missed.
class MarkerWatch {
public:
    MarkerWatch(const Project& project, const Unit& unit, const BarrierWait& options);
    /// Closing an inotify instance waits for a kernel grace period (~10-20 ms here): destroy
    /// the watch after acting on wait(), not before.
    ~MarkerWatch();
    MarkerWatch(const MarkerWatch&) = delete;
    MarkerWatch& operator=(const MarkerWatch&) = delete;

    /// Returns when every slice of the unit's current plan has a marker of that plan (succeeded
    /// or failed), or throws NodeError naming the slices still missing when the timeout passes.
    void wait();

private:
    const Project& project_;
    const Unit& unit_;
    BarrierWait options_;
    int inotify_ = -1;
};

}  // namespace steppar

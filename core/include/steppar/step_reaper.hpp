// Nothing a step starts outlives it. A step's process (a slice or plain node, forked from the
// fork server or exec'd) makes itself a child subreaper (PR_SET_CHILD_SUBREAPER): whatever its
// node starts, even a process that calls setsid() or whose parent exits (a daemon's double
// fork), stays its descendant and is re-parented to it rather than to init. When the step ends,
// StepReaper kills every descendant still there (SIGKILL, with its process group) and reaps it,
// and says which ones it killed; it does so before the step syncs its outputs and writes its
// marker, so nothing can touch the outputs after the marker vouches for them. The fork server is
// a subreaper too, for the descendants of a step that died before it could clean up (killed,
// crashed): it kills them when it reaps that step.
//
//   StepReaper reaper;                       // first thing in the step's process
//   run_slice(...);                          // calls reap_step_leftovers("count-slice-2")
//                                            // ~StepReaper: kills what a failed step left
#pragma once

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace steppar {

/// Makes this process a child subreaper; on destruction kills and reaps whatever descendants
/// are left (silently: on the way out of a failed step).
class StepReaper {
public:
    StepReaper();
    ~StepReaper();
    StepReaper(const StepReaper&) = delete;
    StepReaper& operator=(const StepReaper&) = delete;
};

/// Kills and reaps every descendant of this process and warns naming them (as `step`).
void reap_step_leftovers(const std::string& step);

/// Kills (SIGKILL, with their process groups) and reaps every child of this process, and the
/// children that killing them re-parents to it, except `keep`; returns "pid (name)" of each.
std::vector<std::string> kill_children(const std::vector<pid_t>& keep = {});

/// Kills (SIGKILL, with their process groups) the processes of this user that hold `file` open,
/// other than this one, and waits (up to 2 s) for them to go; returns "pid (name)" of each. For
/// what a dead run left behind holding its steps' lease: found as fuser(1) does, in /proc.
std::vector<std::string> kill_holders_of(const std::filesystem::path& file);

/// The same from a signal handler (async-signal-safe: raw open/read/kill/waitpid, no memory):
/// a step killed with SIGTERM (its host died: PR_SET_PDEATHSIG) takes what its node started
/// with it, including processes that left its group with setsid().
void kill_children_from_signal_handler() noexcept;

}  // namespace steppar

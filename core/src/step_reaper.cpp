#include "steppar/step_reaper.hpp"

#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace steppar {
namespace {

// This process's children, from /proc (every thread's list: a child belongs to the thread that
// forked it).
std::vector<pid_t> children() {
    std::vector<pid_t> pids;
    const std::string task = "/proc/" + std::to_string(::getpid()) + "/task/";
    std::vector<std::string> tids;
    if (auto* dir = ::opendir(task.c_str())) {
        while (auto* entry = ::readdir(dir))
            if (entry->d_name[0] != '.') tids.emplace_back(entry->d_name);
        ::closedir(dir);
    }
    for (const auto& tid : tids) {
        std::ifstream list(task + tid + "/children");
        for (pid_t pid; list >> pid;) pids.push_back(pid);
    }
    return pids;
}

std::string name_of(pid_t pid) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return std::to_string(pid) + (name.empty() ? "" : " (" + name + ")");
}

}  // namespace

std::vector<std::string> kill_children(const std::vector<pid_t>& keep) {
    std::vector<std::string> killed;
    // Killing a child re-parents its own children to us (we are a subreaper): go round until
    // none is left. Bounded, in case /proc says nothing new but something keeps appearing.
    for (int round = 0; round < 64; ++round) {
        std::vector<pid_t> left;
        for (const pid_t pid : children())
            if (std::find(keep.begin(), keep.end(), pid) == keep.end()) left.push_back(pid);
        if (left.empty()) break;
        for (const pid_t pid : left) {
            killed.push_back(name_of(pid));
            ::kill(-pid, SIGKILL);  // its process group, if it leads one
            ::kill(pid, SIGKILL);
        }
        for (const pid_t pid : left)
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
    }
    std::sort(killed.begin(), killed.end());
    killed.erase(std::unique(killed.begin(), killed.end()), killed.end());
    return killed;
}

StepReaper::StepReaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

StepReaper::~StepReaper() { kill_children(); }

void reap_step_leftovers(const std::string& step) {
    const auto killed = kill_children();
    if (killed.empty()) return;
    warn(step + ": killed " + std::to_string(killed.size()) + " process(es) a node left running (" + join_first(killed, 5) +
         "): nothing a step starts may outlive it");
}

}  // namespace steppar

#include "steppar/step_reaper.hpp"

#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sys/prctl.h>
#include <sys/stat.h>
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

namespace {

// "/proc/PID/task/PID/children" for this process's main thread, without allocating.
void children_path(char* out, std::size_t size) {
    char digits[24];
    int n = 0;
    for (pid_t pid = ::getpid(); pid > 0 && n < 23; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
    std::size_t at = 0;
    const auto put = [&](const char* text) {
        while (*text && at + 1 < size) out[at++] = *text++;
    };
    char number[24];
    for (int i = 0; i < n; ++i) number[i] = digits[n - 1 - i];
    number[n] = 0;
    put("/proc/");
    put(number);
    put("/task/");
    put(number);
    put("/children");
    out[at] = 0;
}

}  // namespace

void kill_children_from_signal_handler() noexcept {
    char path[80];
    children_path(path, sizeof path);
    // Children forked by the main thread: a node's helpers, and what killing them re-parents
    // here (this process is a subreaper). Bounded rounds, as kill_children().
    for (int round = 0; round < 64; ++round) {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        char text[4096];
        const ssize_t got = ::read(fd, text, sizeof text - 1);
        ::close(fd);
        if (got <= 0) return;
        bool any = false;
        pid_t pid = 0;
        for (ssize_t i = 0; i <= got; ++i) {
            if (i < got && text[i] >= '0' && text[i] <= '9') {
                pid = pid * 10 + (text[i] - '0');
                continue;
            }
            if (pid > 0) {
                ::kill(-pid, SIGKILL);
                ::kill(pid, SIGKILL);
                while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
                }
                any = true;
            }
            pid = 0;
        }
        if (!any) return;
    }
}

std::vector<std::string> kill_holders_of(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    struct stat target {};
    if (::stat(file.c_str(), &target) != 0) return {};
    std::vector<pid_t> holders;
    std::vector<std::string> named;
    std::error_code ec;
    for (const auto& process : fs::directory_iterator("/proc", ec)) {
        const std::string pid_text = process.path().filename().string();
        if (pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
        if (pid == ::getpid()) continue;
        std::error_code fd_ec;  // another user's process, or one that just ended: not ours
        for (const auto& fd : fs::directory_iterator(process.path() / "fd", fd_ec)) {
            struct stat held {};
            if (::stat(fd.path().c_str(), &held) == 0 && held.st_dev == target.st_dev && held.st_ino == target.st_ino) {
                holders.push_back(pid);
                named.push_back(name_of(pid));
                break;
            }
        }
    }
    for (const pid_t pid : holders) {
        if (::getpgid(pid) == pid) ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
    }
    // Not our children: gone when kill(pid, 0) says so (a zombie's parent reaps it).
    for (int waited = 0; waited < 400; ++waited) {
        const bool alive = std::any_of(holders.begin(), holders.end(), [](pid_t pid) {
            if (::kill(pid, 0) != 0) return false;
            std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
            std::string line;
            std::getline(stat, line);
            const auto close = line.rfind(')');
            return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
        });
        if (!alive) break;
        ::usleep(5000);
    }
    std::sort(named.begin(), named.end());
    return named;
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

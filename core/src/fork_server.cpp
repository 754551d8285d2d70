#include "steppar/fork_server.hpp"

#include "steppar/error.hpp"
#include "steppar/events.hpp"
#include "steppar/executor.hpp"
#include "steppar/run_lock.hpp"
#include "steppar/signals.hpp"
#include "steppar/step_reaper.hpp"
#include "steppar/step_trace.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <utility>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace steppar {
namespace {

// One datagram each way (SOCK_SEQPACKET keeps them whole). Both ends are the same binary.
struct ServerMessage {
    enum Kind : std::uint32_t { start = 1, started = 2, ended = 3, cannot_fork = 4 };
    Kind kind;
    std::uint32_t step;
    std::int32_t pid;
    std::int32_t value;  // start: the attempt; ended: wait status; cannot_fork: errno
};

// Before fork and before _exit: buffered output must leave exactly once, from its own process.
void flush_output() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
}

// `attached`: a file descriptor passed along (SCM_RIGHTS), or -1.
bool send_message(int fd, const ServerMessage& m, int attached = -1) {
    iovec data{const_cast<ServerMessage*>(&m), sizeof m};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (attached >= 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&header);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &attached, sizeof(int));
    }
    for (;;) {
        if (::sendmsg(fd, &header, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof m)) return true;
        if (errno != EINTR) return false;
    }
}

void close_all_fds_but(int keep_a, int keep_b) {
    const int low = std::min(keep_a, keep_b), high = std::max(keep_a, keep_b);
    if (low > 3) ::close_range(3, static_cast<unsigned>(low - 1), 0);
    if (high > low + 1) ::close_range(static_cast<unsigned>(low + 1), static_cast<unsigned>(high - 1), 0);
    ::close_range(static_cast<unsigned>(high + 1), ~0U, 0);
}

// What `steppar-host run-slice`/`run-node --planned` do: the host has decided that the step
// runs (freshness.hpp) and planned it; same one-line error and exit code. `error` gets the line.
int run_step(Project& project, const Step& step, std::string& error) {
    try {
        const Unit& unit = project.pipeline().units()[step.unit];
        if (step.kind == StepKind::slice)
            run_slice(project, unit, step.slice);
        else
            run_node(project, unit, {/*planned=*/true});
        return 0;
    } catch (const Error& e) {
        error = e.what();
        events().error(error, e.exit_code());
        return e.exit_code();
    } catch (const std::exception& e) {
        error = std::string("internal error: ") + e.what();
        events().error(error, 1);
        return 1;
    }
}

// A step that cannot set itself up (its output, its process group, its death with the server)
// must not run: a node whose output nobody reads, or that a stop cannot kill, would pass
// unnoticed. Said on the step's pipe, where the host reads its output, and on stderr.
[[noreturn]] void give_up_in_child(int output, const char* what) {
    const std::string line = std::string("steppar: cannot start the step: ") + what + ": " + std::strerror(errno) + "\n";
    if (output >= 0) (void)!::write(output, line.data(), line.size());
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    ::_exit(1);
}

[[noreturn]] void child_main(Project& project, const Step& step, int attempt, const sigset_t& host_mask,
                             pid_t server, int channel, int signals, int output) {
    ::close(channel);
    ::close(signals);
    // stdout and stderr go to the host through this step's pipe; events are framed on it.
    flush_output();
    if (::dup2(output, STDOUT_FILENO) < 0 || ::dup2(output, STDERR_FILENO) < 0) give_up_in_child(output, "redirecting its output");
    // Events go through a descriptor of their own, which a node closing or reopening its stdout
    // and stderr cannot touch (see report_channel()).
    const int events_fd = report_channel(output);
    ::close(output);
    // The host's sink (a live display, say) is the host's: dropped without its destructor,
    // which would draw on the pipe.
    (void)set_events(make_child_reporter(events_fd)).release();
    // Likewise the host's trace: this process writes its own part (step_trace.hpp).
    set_trace_log(nullptr);
    restore_default_signals(host_mask);
    // Its own group: a timeout or an interrupt kills what it starts, too.
    if (::setpgid(0, 0) != 0) give_up_in_child(-1, "making its process group");
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) give_up_in_child(-1, "tying its life to the fork server's");
    if (::getppid() != server) ::_exit(128 + SIGTERM);  // the server died before prctl
    remove_temporaries_on_termination_signals();
    const StepLease lease(project.state().steps_lock());
    int code = 0;
    {
        auto trace = StepTrace::begin({step.name, step.kind, project.pipeline().units()[step.unit].name,
                                       step.kind == StepKind::slice ? step.slice : -1, attempt});
        const StepReaper reaper;  // nothing the node starts outlives the step
        std::string error;
        code = run_step(project, step, error);
        if (trace) trace->end(code, error);
    }
    flush_output();
    // No static destructors: they belong to the host this process was forked from.
    ::_exit(code);
}

[[noreturn]] void serve(Project& project, const ExpandedGraph& graph, int channel, pid_t host,
                        const sigset_t& host_mask) {
    // No PR_SET_PDEATHSIG here: the host's death is the channel's hangup, after which this
    // server still has to take down what its steps started (a SIGKILL on the host's death
    // would leave that to init: a node's setsid() daemon then ran forever).
    if (::getppid() != host) ::_exit(0);
    // Descendants of a step that died before cleaning up come here instead of to init.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // The host decides when steps stop; a Ctrl-C on the terminal reaches the server too.
    const int signals = watch_children_and_ignore_stops();
    if (signals < 0) ::_exit(1);
    // The run lock and whatever else the host had open stay with the host.
    close_all_fds_but(channel, signals);

    const pid_t self = ::getpid();
    std::map<pid_t, std::uint32_t> running;
    bool host_lost = false;
    auto reap = [&](int options) {
        int status = 0;
        pid_t pid;
        bool orphans = false;
        while ((pid = ::waitpid(-1, &status, options)) > 0) {
            const auto it = running.find(pid);
            if (it == running.end()) continue;  // an orphan re-parented here, now gone
            // A step that did not end by itself normally may have left descendants, now ours.
            orphans = orphans || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
            const std::uint32_t step = it->second;
            running.erase(it);
            // The host cannot be told: it is gone, and so must be everything of this run.
            if (!send_message(channel, {ServerMessage::ended, step, pid, status})) host_lost = true;
        }
        if (orphans) {
            std::vector<pid_t> steps;
            for (const auto& [step_pid, _] : running) steps.push_back(step_pid);
            kill_children(steps);
        }
    };
    while (!host_lost) {
        pollfd fds[2] = {{channel, POLLIN, 0}, {signals, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info;
            while (::read(signals, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            }
            reap(WNOHANG);
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ServerMessage m{};
        const ssize_t got = ::recv(channel, &m, sizeof m, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got != static_cast<ssize_t>(sizeof m) || m.kind != ServerMessage::start || m.step >= graph.steps.size()) break;
        int output[2];
        if (::pipe2(output, O_CLOEXEC) != 0) {
            if (!send_message(channel, {ServerMessage::cannot_fork, m.step, 0, errno})) break;
            continue;
        }
        flush_output();
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(output[0]);
            child_main(project, graph.steps[m.step], m.value > 0 ? m.value : 1, host_mask, self, channel, signals, output[1]);
        }
        const int error = errno;
        ::close(output[1]);
        if (pid < 0) {
            ::close(output[0]);
            if (!send_message(channel, {ServerMessage::cannot_fork, m.step, 0, error})) break;
            continue;
        }
        // Also here, so the group exists before the host can signal it. Should it fail, the
        // step could not be stopped with its group: it does not run.
        if (::setpgid(pid, pid) != 0) {
            const int group_error = errno;
            ::kill(pid, SIGKILL);
            ::close(output[0]);
            if (!send_message(channel, {ServerMessage::cannot_fork, m.step, 0, group_error})) break;
            continue;
        }
        running[pid] = m.step;
        const bool told = send_message(channel, {ServerMessage::started, m.step, pid, 0}, output[0]);  // the host reads the pipe
        ::close(output[0]);
        if (!told) break;  // the host is gone: the loop's end kills what runs
    }
    // The host is gone or done: nothing of this run may outlive it. Killing the steps re-parents
    // what their nodes started to this server (a subreaper): those go too, group by group.
    for (const auto& [pid, _] : running) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
    }
    kill_children();
    ::_exit(0);
}

}  // namespace

std::unique_ptr<ForkServer> ForkServer::start(Project& project, const ExpandedGraph& graph) {
    // Work every child would repeat, done once here: plugin digests (for definitions), which
    // also initialise OpenSSL's SHA-256.
    for (const auto& unit : project.pipeline().units())
        for (const auto& n : unit.nodes) project.plugins().digest(n.function.plugin);
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        throw StateError(std::string("cannot create the fork server's channel: ") + std::strerror(errno));
    const sigset_t host_mask = current_signal_mask();
    flush_output();
    const pid_t host = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        serve(project, graph, fds[1], host, host_mask);
    }
    const int error = errno;
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        throw StateError(std::string("cannot fork the fork server: ") + std::strerror(error));
    }
    return std::unique_ptr<ForkServer>(new ForkServer(pid, fds[0]));
}

ForkServer::~ForkServer() {
    ::close(channel_);
    while (::waitpid(server_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

bool ForkServer::receive(bool block) {
    ServerMessage m{};
    iovec data{&m, sizeof m};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t got;
    do {
        got = ::recvmsg(channel_, &header, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
    } while (got < 0 && errno == EINTR);
    int attached = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&attached, CMSG_DATA(c), sizeof(int));
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (attached >= 0 && m.kind != ServerMessage::started) ::close(attached);
    if (got != static_cast<ssize_t>(sizeof m))
        throw StateError("the fork server (pid " + std::to_string(server_) +
                         ") stopped unexpectedly; rerun, or use --launch exec");
    switch (m.kind) {
    case ServerMessage::started: started_.push_back({m.step, m.pid, attached}); return true;
    case ServerMessage::ended: exits_.push_back({m.step, m.value}); break;
    case ServerMessage::cannot_fork:
        throw StateError("cannot start a process for step " + std::to_string(m.step) + ": " + std::strerror(m.value));
    default: throw StateError("the fork server sent an unknown message");
    }
    return true;
}

ForkServer::Launched ForkServer::launch(std::size_t step, int attempt) {
    const ServerMessage request{ServerMessage::start, static_cast<std::uint32_t>(step), 0, attempt};
    if (!send_message(channel_, request))
        throw StateError("the fork server (pid " + std::to_string(server_) + ") is gone; rerun, or use --launch exec");
    for (;;) {
        for (auto it = started_.begin(); it != started_.end(); ++it)
            if (it->step == step) {
                const Launched launched{it->pid, it->output};
                started_.erase(it);
                return launched;
            }
        receive(/*block=*/true);
    }
}

std::vector<ForkServer::Exit> ForkServer::take_exits() {
    while (receive(/*block=*/false)) {
    }
    return std::exchange(exits_, {});
}

}  // namespace steppar

// The only translation unit that includes Boost.Process and Boost.Asio: one child process per
// step, each in its own process group, watched with timeouts and termination signals. Children
// come from the fork server (fork_server.hpp) or, with --launch exec, from Boost.Process.
#include "steppar/child_output.hpp"
#include "steppar/error.hpp"
#include "steppar/events.hpp"
#include "steppar/fork_server.hpp"
#include "steppar/interruption.hpp"
#include "steppar/signals.hpp"
#include "steppar/executor.hpp"
#include "steppar/log.hpp"
#include "steppar/vouching.hpp"
#include "steppar/runner.hpp"
#include "steppar/usable_cores.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bp = boost::process::v2;
namespace asio = boost::asio;

namespace steppar {
namespace {

// What ChildSetup does, out of line: 0, or the errno of what failed.
[[gnu::noinline]] int set_up_step_child(pid_t host) {
    if (::setpgid(0, 0) != 0 || ::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return errno;
    if (::getppid() != host) ::_exit(128 + SIGTERM);  // the host died before prctl
    return 0;
}

/// Runs in the child between fork and exec: its own process group (so a timeout or an
/// interrupt can kill everything it started), and death with the host (so a host killed with
/// SIGKILL leaves no orphan writing outputs).
struct ChildSetup {
    pid_t host;
    template <class Launcher>
    boost::system::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*&) {
        // A step that could not be stopped with its group, or would outlive the host, does not
        // start: the launch fails with the reason.
        if (const int error = set_up_step_child(host)) return boost::system::error_code(error, boost::system::system_category());
        return {};
    }
};

constexpr auto grace = std::chrono::seconds(3);  // TERM, then KILL

class ProcessLauncher final : public Launcher {
public:
    ProcessLauncher(Project& project, const ExpandedGraph& graph, const RunOptions& options)
        : project_(project), graph_(graph), options_(options),
          // Before anything else (the signal handlers, the listing): the server must be small.
          server_(options.launch == LaunchKind::fork_server ? ForkServer::start(project, graph) : nullptr),
          capacity_(options.runner == RunnerKind::sequential ? 1
                    : options.max_workers > 0                ? static_cast<std::size_t>(options.max_workers)
                                                             : usable_cores()) {
        wake_.assign(::dup(interrupts_.wake_fd()));
        watch_signals();
        if (server_) {
            channel_.assign(::dup(server_->channel()));
            watch_server();
        }
        if (events().animated()) tick();
    }

    ~ProcessLauncher() override {
        // Reached with children still running only when the run is abandoned by an exception:
        // never leave them behind.
        for (auto& [_, child] : children_) kill_group(*child, SIGKILL);
        for (auto& [_, child] : children_) {
            boost::system::error_code ec;
            if (child->process) child->process->wait(ec);
        }
        // The fork server reaps its own children before it exits; ~ForkServer waits for it.
    }

    void start(std::size_t index, double timeout) override {
        auto child = std::make_unique<Child>(io_, timeout);
        Child& c = *child;
        const int attempt = ++launches_[index];  // the scheduler's count too: one start per attempt
        if (server_) {
            const auto launched = server_->launch(index, attempt);
            c.pid = launched.pid;
            children_.emplace(index, std::move(child));
            attach_output(index, c, launched.output);
        } else {
            int output[2];
            if (::pipe2(output, O_CLOEXEC) != 0)
                throw StateError(std::string("cannot create a pipe for a step's output: ") + std::strerror(errno));
            try {
                c.process.emplace(io_, options_.host_program.string(), exec_arguments(index, attempt),
                                  bp::process_stdio{{}, output[1], output[1]}, ChildSetup{::getpid()});
            } catch (...) {
                ::close(output[0]);
                ::close(output[1]);
                throw;
            }
            ::close(output[1]);
            c.pid = c.process->id();
            children_.emplace(index, std::move(child));
            attach_output(index, c, output[0]);
            c.process->async_wait([this, index](boost::system::error_code, int) {
                const auto it = children_.find(index);
                if (it != children_.end()) it->second->wait_status = it->second->process->native_exit_code();
                ended_.push_back(index);
            });
        }
        if (timeout > 0) {
            c.timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout)));
            c.timer.async_wait([this, index](boost::system::error_code ec) {
                const auto it = children_.find(index);
                if (ec || it == children_.end()) return;
                Child& late = *it->second;
                late.timed_out = true;
                kill_group(late, SIGTERM);  // lets the slice remove its temporary files
                late.timer.expires_after(grace);
                late.timer.async_wait([this, index](boost::system::error_code ec2) {
                    const auto again = children_.find(index);
                    if (!ec2 && again != children_.end()) kill_group(*again->second, SIGKILL);
                });
            });
        }
    }

    std::optional<StepResult> wait_any() override {
        const int interrupted_before = handled_;
        collect_server_exits();  // some may have arrived while launch() waited for a pid
        while (ended_.empty()) {
            // An io_context that ran out of work stays stopped until restarted.
            if (io_.stopped()) io_.restart();
            if (io_.run_one() == 0 && ended_.empty())
                throw StateError("internal: waiting for child processes but none is being watched");
            if (handled_ != interrupted_before) return std::nullopt;
        }
        const std::size_t index = ended_.front();
        ended_.pop_front();
        auto node = children_.extract(index);
        Child& child = *node.mapped();
        child.timer.cancel();
        // Everything it wrote is in the pipe by now; a grandchild that kept the pipe open
        // must not hold the step's end back, so no waiting for end of file.
        read_output(child);
        child.reader->finish();
        StepResult ended = result(index, child);
        ended.wait_status = child.wait_status;
        ended.pid = static_cast<long>(child.pid);
        return ended;
    }

    std::size_t running() const override { return children_.size(); }
    std::size_t capacity() const override { return capacity_; }
    int interrupted_by() const override { return interrupt_signal(); }

    void stop_all() override {
        for (auto& [_, child] : children_) {
            child->stopped = true;
            kill_group(*child, SIGTERM);
        }
        if (children_.empty()) return;
        // Children that ignore TERM get KILL after a grace period.
        grace_timer_.expires_after(grace);
        grace_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            for (auto& [_, child] : children_) kill_group(*child, SIGKILL);
        });
    }

private:
    struct Child {
        Child(asio::io_context& io, double t) : timer(io), output(io), timeout(t) {}
        pid_t pid = 0;                       ///< also its process group
        std::optional<bp::process> process;  ///< --launch exec only
        asio::steady_timer timer;
        asio::posix::stream_descriptor output;  ///< its stdout and stderr
        std::unique_ptr<ChildOutput> reader;
        bool timed_out = false;
        bool stopped = false;
        double timeout;
        int wait_status = 0;
    };

    void attach_output(std::size_t index, Child& child, int fd) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        child.output.assign(fd);
        const Step& step = graph_.steps[index];
        child.reader = std::make_unique<ChildOutput>(step.name, project_.pipeline().units()[step.unit].name, step.kind, step.slice);
        watch_output(index, &child);
    }

    void watch_output(std::size_t index, Child* child) {
        child->output.async_wait(asio::posix::stream_descriptor::wait_read, [this, index, child](boost::system::error_code ec) {
            const auto it = children_.find(index);
            if (ec || it == children_.end() || it->second.get() != child) return;  // ended, or a retry's
            if (read_output(*child)) watch_output(index, child);
        });
    }

    /// Reads what is there without blocking; false once the pipe is closed.
    static bool read_output(Child& child) {
        if (!child.output.is_open()) return false;
        char buffer[1 << 16];
        for (;;) {
            const ssize_t n = ::read(child.output.native_handle(), buffer, sizeof buffer);
            if (n > 0) {
                child.reader->feed(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
            boost::system::error_code ignored;
            child.output.close(ignored);
            return false;
        }
    }

    void tick() {
        tick_timer_.expires_after(std::chrono::milliseconds(100));
        tick_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            events().tick();
            tick();
        });
    }

    std::vector<std::string> exec_arguments(std::size_t index, int attempt) const {
        const Step& step = graph_.steps[index];
        const Unit& unit = project_.pipeline().units()[step.unit];
        std::vector<std::string> args = {step.kind == StepKind::slice ? "run-slice" : "run-node",
                                         project_.pipeline_file().string(), "--node", unit.name, "--state-dir",
                                         project_.state().root().string()};
        if (step.kind == StepKind::slice) args.insert(args.end(), {"--slice", std::to_string(step.slice)});
        if (step.kind == StepKind::node) args.push_back("--planned");  // the host decided and planned
        if (options_.quiet) args.push_back("--quiet");
        args.push_back("--report-to-host");
        args.insert(args.end(), {"--attempt", std::to_string(attempt)});  // names its trace rows (step_trace.hpp)
        for (const auto& param : options_.params) args.insert(args.end(), {"--param", param});
        return args;
    }

    void collect_server_exits() {
        if (!server_) return;
        for (const auto& exit : server_->take_exits()) {
            const auto it = children_.find(exit.step);
            if (it == children_.end()) continue;
            it->second->wait_status = exit.wait_status;
            ended_.push_back(exit.step);
        }
    }

    void watch_server() {
        channel_.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
            if (ec) return;
            collect_server_exits();
            watch_server();
        });
    }

    // The signals themselves were recorded by the watch (interruption.hpp); here the children
    // hear of them: TERM first, KILL at once on a second signal.
    void watch_signals() {
        wake_.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
            if (ec) return;
            char received[64];
            ssize_t n;
            while ((n = ::read(wake_.native_handle(), received, sizeof received)) > 0) {
                for (ssize_t k = 0; k < n; ++k) {
                    if (handled_ == 0) {
                        handled_ = received[k];
                        warn("received " + signal_name(handled_) + ": stopping " + std::to_string(children_.size()) + " running step(s)");
                        stop_all();
                    } else {
                        for (auto& [_, child] : children_) kill_group(*child, SIGKILL);  // second signal: no grace
                    }
                }
            }
            watch_signals();
        });
    }

    static void kill_group(Child& child, int signal) {
        const pid_t pid = child.pid;
        if (pid <= 0) return;
        ::kill(-pid, signal);  // the group (grandchildren too)
        ::kill(pid, signal);   // and the child, in case it had not made its group yet
    }

    StepResult result(std::size_t index, const Child& child) const {
        const Step& step = graph_.steps[index];
        const int status = child.wait_status;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            return {index, true, false, {}, child.reader ? child.reader->partitions_done() : -1};
        const Unit& unit = project_.pipeline().units()[step.unit];
        if (child.stopped) return {index, false, true, step.name + " stopped"};
        std::string where;
        const bool whole = step.kind == StepKind::node && project_.function(unit.nodes.front()).kind == NodeKind::whole;
        if (!whole) {
            // The step's own marker says best what went wrong; a crash leaves its ledger segment,
            // whose first missing partition is where it stopped.
            const int slice = step.kind == StepKind::slice ? step.slice : 0;
            try {
                const PlanIndex plan = read_plan_index(project_.state(), unit.name);
                const MarkerReading reading = read_step_marker(project_.state(), {unit.name, slice, plan.plan_id});
                if (reading.verdict == MarkerVerdict::failed) return {index, false, false, step.name + reading.failure()};
            } catch (const Error&) {
            }
            const std::string partition = partition_in_progress(project_, unit, slice);
            if (!partition.empty()) where = " on partition '" + partition + "'";
        }
        char timeout[32];
        std::snprintf(timeout, sizeof timeout, "%g", child.timeout);
        if (child.timed_out)
            return {index, false, false, step.name + " timed out after " + timeout + " s" + where + " (killed with its process group)"};
        if (WIFSIGNALED(status)) {
            const int signal = WTERMSIG(status);
            std::string why = step.name + " crashed: killed by " + signal_name(signal) + where;
            if (signal == SIGKILL) why += " (out of memory, or killed from outside)";
            return {index, false, false, why};
        }
        if (child.reader && !child.reader->error().empty())  // its own one-line error says it best
            return {index, false, false, step.name + " failed: " + child.reader->error()};
        const bool said = child.reader && child.reader->said_anything();
        return {index, false, false,
                step.name + " failed (exit code " + std::to_string(WEXITSTATUS(status)) + ")" + where +
                    (said ? ", see its message above"
                          : " without saying why: it closed its output (stdout, stderr and the descriptors steppar gave it)")};
    }

    Project& project_;
    const ExpandedGraph& graph_;
    const RunOptions& options_;
    std::unique_ptr<ForkServer> server_;
    std::size_t capacity_;
    asio::io_context io_;
    asio::posix::stream_descriptor channel_{io_};  ///< the fork server's channel (a dup)
    InterruptWatch interrupts_;
    asio::posix::stream_descriptor wake_{io_};  ///< the watch's pipe (a dup)
    asio::steady_timer grace_timer_{io_};
    asio::steady_timer tick_timer_{io_};  ///< redraws a live display
    std::map<std::size_t, std::unique_ptr<Child>> children_;
    std::map<std::size_t, int> launches_;  ///< per step: how often it was started
    std::deque<std::size_t> ended_;
    int handled_ = 0;  ///< the signal the children were stopped for
};

}  // namespace

std::unique_ptr<Launcher> make_process_launcher(Project& project, const ExpandedGraph& graph, const RunOptions& options) {
    if (options.host_program.empty()) throw UsageError("runners need the path of steppar-host");
    return std::make_unique<ProcessLauncher>(project, graph, options);
}

}  // namespace steppar

// The only translation unit that includes Boost.Process: one child process per step.
#include "steppar/error.hpp"
#include "steppar/marker.hpp"
#include "steppar/runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>

#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <sys/wait.h>
#include <thread>

namespace bp = boost::process::v2;

namespace steppar {
namespace {

std::string signal_name(int signal) {
    const char* abbrev = sigabbrev_np(signal);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

class ProcessLauncher final : public Launcher {
public:
    ProcessLauncher(Project& project, const ExpandedGraph& graph, const RunOptions& options)
        : project_(project), graph_(graph), program_(options.host_program.string()),
          capacity_(options.max_workers > 0 ? static_cast<std::size_t>(options.max_workers)
                                            : std::max(1u, std::thread::hardware_concurrency())) {}

    ~ProcessLauncher() override {
        // Only reached with children still running when the run is being abandoned (an
        // exception): stop them rather than leave orphans writing outputs.
        for (auto& [_, child] : children_) {
            boost::system::error_code ec;
            child.process.terminate(ec);
        }
    }

    void start(std::size_t index) override {
        const Step& step = graph_.steps[index];
        const Unit& unit = project_.pipeline().units()[step.unit];
        std::vector<std::string> args;
        if (step.kind == StepKind::slice)
            args = {"run-slice", project_.pipeline_file().string(), "--node", unit.name, "--slice",
                    std::to_string(step.slice), "--state-dir", project_.state().root().string()};
        else
            args = {"run-node", project_.pipeline_file().string(), "--node", unit.name, "--state-dir",
                    project_.state().root().string()};
        auto [it, _] = children_.emplace(index, Child{bp::process(io_, program_, args)});
        it->second.process.async_wait([this, index](boost::system::error_code, int) { ended_.push_back(index); });
    }

    StepResult wait_any() override {
        while (ended_.empty()) {
            // An io_context that ran out of work stays stopped until restarted; without this a
            // later wait would spin instead of blocking.
            if (io_.stopped()) io_.restart();
            if (io_.run_one() == 0 && ended_.empty())
                throw StateError("internal: waiting for slice processes but none is being watched");
        }
        const std::size_t index = ended_.front();
        ended_.pop_front();
        auto node = children_.extract(index);
        const int status = node.mapped().process.native_exit_code();
        return result(index, status);
    }

    std::size_t running() const override { return children_.size(); }
    std::size_t capacity() const override { return capacity_; }

private:
    struct Child {
        bp::process process;
    };

    StepResult result(std::size_t index, int status) const {
        const Step& step = graph_.steps[index];
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {index, true, {}};
        std::string what;
        if (step.kind == StepKind::slice) {
            // The slice's own marker says best what went wrong.
            try {
                const auto marker = read_marker(project_.state().marker(project_.pipeline().units()[step.unit].name, step.slice));
                if (marker && !marker->success)
                    return {index, false,
                            step.name + " failed on partition '" + marker->failed_partition + "': " + marker->message};
            } catch (const Error&) {
            }
        }
        if (WIFSIGNALED(status))
            what = step.name + " was killed by " + signal_name(WTERMSIG(status));
        else
            what = step.name + " failed (exit code " + std::to_string(WEXITSTATUS(status)) + ", see its message above)";
        return {index, false, what};
    }

    Project& project_;
    const ExpandedGraph& graph_;
    std::string program_;
    std::size_t capacity_;
    boost::asio::io_context io_;
    std::map<std::size_t, Child> children_;
    std::deque<std::size_t> ended_;
};

}  // namespace

std::unique_ptr<Launcher> make_process_launcher(Project& project, const ExpandedGraph& graph, const RunOptions& options) {
    if (options.host_program.empty()) throw UsageError("the parallel runner needs the path of steppar-host");
    return std::make_unique<ProcessLauncher>(project, graph, options);
}

}  // namespace steppar

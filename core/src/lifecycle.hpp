// Plugin setup and teardown (STEPPAR_SETUP, STEPPAR_TEARDOWN) around one step's node calls.
// Internal to the core: only slice_execution.cpp runs steps.
//
//   StepLifecycle lifecycle(project, unit, "count-slice-2", 2, 4);
//   lifecycle.set_up();                            // before the first call; throws on failure
//   ... call the nodes ...
//   std::string error = lifecycle.tear_down();     // "" = fine; runs also after a node failed
//
// A step is one process (a slice, or a plain node), so this is what "once per slice" means
// under every launcher: the fork server's child, an exec'd `steppar-host run-slice`, a Slurm
// task or a Kubernetes pod all run the step through the same code. Plugins are set up in the
// order the unit's nodes first use them and torn down in the reverse order; a plugin whose
// setup failed is not torn down (its setup did not finish), the ones before it are.
#pragma once

#include "node_context.hpp"

#include <string>
#include <vector>

namespace steppar {

class StepLifecycle {
public:
    StepLifecycle(Project& project, const Unit& unit, std::string step, int slice, int slice_count);
    /// Tears down what is still set up (a failure becomes a warning: the step already failed).
    ~StepLifecycle();
    StepLifecycle(const StepLifecycle&) = delete;
    StepLifecycle& operator=(const StepLifecycle&) = delete;

    /// Calls each plugin's setup once (later calls do nothing). Throws std::runtime_error
    /// "setup of plugin 'x' failed: ..." when one throws.
    void set_up();
    /// Calls the teardowns of the plugins set up, in reverse order, each at most once; returns
    /// "" or what failed ("teardown of plugin 'x' failed: ...", several joined by "; ").
    std::string tear_down();

private:
    class Context;
    struct Plugin {
        std::string alias;
        const PluginDescriptor* descriptor;
        std::unique_ptr<Context> context;
    };
    std::vector<Plugin> plugins_;
    std::size_t set_up_ = 0;  // plugins_[0, set_up_) have been set up and not torn down
    bool started_ = false;
};

}  // namespace steppar

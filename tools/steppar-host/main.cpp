// steppar-host: the launcher. Turns the command line into calls on the core and every error
// into one line on stderr and an exit code (0 ok, 1 a node failed, 2 bad usage or input).
#include "commands.hpp"

#include <steppar/error.hpp>
#include <steppar/events.hpp>

#include <boost/program_options/errors.hpp>

#include <cstring>
#include <iostream>

namespace {

constexpr const char* usage = R"(steppar-host: run step-parallel pipelines of C++ node plugins

Usage: steppar-host COMMAND PIPELINE [OPTIONS]
       steppar-host new-plugin NAME [--dir DIR]

Commands:
  run        run the whole pipeline (slicer, slices, barrier, downstream nodes)
  run-slice  run one slice of a multinode or multipipeline (what runners and cluster jobs call)
  run-node   run one plain node
  run-slicer run one multinode's slicer (write its slice plan)
  check-barrier  check that every slice of a multinode has a success marker
  export     write the pipeline as Slurm scripts (export slurm) or Kubernetes Jobs (export k8s)
  graph      print the expanded graph: every step and what it waits for
  plan       dry run: the steps in execution order with each slice's partition count
  validate   check the pipeline file, plugins and graph without running anything (exit 0 or 2)
  status     what the state folder says: each step done, failed, stale or not run, and what run would do
  clean      remove the state folder (plans, markers, intermediate data); never the catalog's data
  nodes      list every node of the pipeline with its function, kind and plugin file
  new-plugin NAME [--dir D]: write a ready out-of-tree plugin project (CMake, two nodes, a pipeline, a test)

Run 'steppar-host COMMAND --help' for the options of a command.
Exit codes: 0 success, 1 a node failed, 2 bad usage or bad pipeline file.
)";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::cout << usage;
        return argc < 2 ? 2 : 0;
    }
    if (std::strcmp(argv[1], "--version") == 0) {
        std::cout << "steppar-host " << STEPPAR_VERSION_STRING << " (SDK ABI " << STEPPAR_SDK_ABI_VERSION << ")\n";
        return 0;
    }
    const std::string command = argv[1];
    try {
        return steppar::cli::dispatch(command, argc - 1, argv + 1);
    } catch (const steppar::Error& e) {
        steppar::events().error(e.what(), e.exit_code());
        return e.exit_code();
    } catch (const boost::program_options::error& e) {
        std::cerr << "steppar-host " << command << ": " << e.what() << " (see 'steppar-host " << command << " --help')\n";
        return 2;
    } catch (const std::exception& e) {
        steppar::events().error(std::string("internal error: ") + e.what(), 1);
        return 1;
    }
}

// `steppar-host new-plugin NAME [--dir D]`: a ready out-of-tree plugin project.
#pragma once

namespace steppar::cli {

/// argv[0] is "new-plugin". Returns the exit code; throws UsageError for a bad name or a
/// folder that is already there.
int new_plugin_command(int argc, char** argv);

}  // namespace steppar::cli

// Private to the spec parser: the checks a pipeline file's text passes before any tree is built,
// for what the YAML and JSON parsers would silently take or could not survive: a second
// document, a key given twice, nesting deeper than the stack allows, and more values than a
// pipeline needs (alias bombs included). Each failure is a SpecError naming the file and line.
#pragma once

#include <filesystem>
#include <string>

namespace steppar {

/// JSON's own syntax, a key given twice in one object, nesting. For `.json` pipeline files,
/// before they are read as YAML (JSON keeps the last of two keys, YAML the first).
void check_json_text(const std::filesystem::path& file, const std::string& text);

/// One pass over the YAML events. Malformed YAML escapes as YAML::ParserException, for the
/// parser to report as it reports its own.
void check_yaml_events(const std::filesystem::path& file, const std::string& text);

}  // namespace steppar

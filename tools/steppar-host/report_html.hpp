// A run's report (run_report.hpp) as one self-contained HTML page: inline CSS and SVG, no
// script and nothing fetched, so it opens from a mail attachment or a CI artifact as it is.
//
//   summary       outcome, times, partitions by status, concurrency
//   pipeline      the units and the datasets between them, coloured by how each unit went
//   timeline      one lane per step (slicer, each slice, barrier, node), a bar per attempt;
//                 the partitions inside the bars while the run has few enough (detail_limit)
//   concurrency   steps running at once over the run
//   units         per unit: partitions, process time, CPU, peak memory, I/O, slice balance
//   reasons       what was skipped, retracted or up to date, and why
//   slowest       the slowest partitions
//   failures      failed steps and partitions with their messages
//
// Every figure a test checks carries its exact value in a data-v attribute (microseconds,
// bytes, counts), beside the rounded text people read.
#pragma once

#include <steppar/pipeline.hpp>
#include <steppar/run_report.hpp>

#include <string>

namespace steppar::cli {

/// The page; `pipeline` draws the graph (its units as they are now, those of the trace that
/// are gone drawn apart) and `pipeline_file` names it.
std::string report_html(const RunReport& report, const Pipeline& pipeline, const std::string& pipeline_file);

/// The same figures as plain text, for a terminal or a cron mail.
std::string report_text(const RunReport& report);

}  // namespace steppar::cli

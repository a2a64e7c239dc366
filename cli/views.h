// What the CLI prints about API messages: the tables of jobs (`list`), workers,
// datasets, ranks and shards (each a Table, table.h), and the `show` pages of a job or dataset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/repeated_field.h>

#include "cli/table.h"
#include "proto/gradpool.pb.h"

namespace gradpool::cli {

// Prints a table on stdout: aligned and fitted to the terminal's width on a terminal
// (terminal.h), tab-separated lines for scripts otherwise.
void print_table(const Table& table);

// ID, USER, NAME, STATE, GPUS, STEP, LOSS, TOK/S, AGE/DURATION; NAME is cut first when narrow.
Table job_table(const google::protobuf::RepeatedPtrField<v1::Job>& jobs, int64_t now_ms);

// ID, STATE, GPUS, BUSY, LAST HEARTBEAT.
Table worker_table(const google::protobuf::RepeatedPtrField<v1::Worker>& workers, int64_t now_ms);

// NAME, OWNER, RECORDS, SIZE, SHARDS, SHA256 (its first 12 digits), CREATED.
Table dataset_table(const google::protobuf::RepeatedPtrField<v1::Dataset>& datasets,
                    int64_t now_ms);

// `gradpool show`: every field of a job as "key: value" lines, its ranks as a table, then its
// spec. `tty` adds a progress bar; `max_width` (0: unlimited) cuts the rank table.
std::string job_details(const v1::Job& job, int64_t now_ms, bool tty, size_t max_width);

// `gradpool datasets show`: a dataset's fields, then its shards as a table.
std::string dataset_details(const v1::Dataset& dataset, int64_t now_ms, size_t max_width);

// RANK, WORKER, SLOT, GPU, STATE, EXIT (the exit code once EXITED).
Table rank_table(const google::protobuf::RepeatedPtrField<v1::Rank>& ranks);

// SHARD, RECORDS, SIZE, SHA256.
Table shard_table(const google::protobuf::RepeatedPtrField<v1::ShardInfo>& shards);

}  // namespace gradpool::cli

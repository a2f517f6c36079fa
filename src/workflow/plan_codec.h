// How a Plan is kept in a workflow row between calls (JSON in WorkflowRow::plan_json).
// Private to src/workflow.
#ifndef ATIPAY_WORKFLOW_PLAN_CODEC_H_
#define ATIPAY_WORKFLOW_PLAN_CODEC_H_

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "store/store.h"
#include "workflow/workflow.h"

namespace atipay::workflow {

struct StoredPlan {
  std::vector<Write> writes;  // names already prefixed with the workflow id, CIDs set
  std::vector<store::RecordRow> inserts;
  std::vector<store::RecordRow> updates;
  std::vector<Precondition> preconditions;
  boost::json::object output;
  std::size_t per_round = 50;
};

// `finished`: the workflow is done or failed, so only what a replayed callback is checked
// against (the writes) is kept; rows and output are not needed any more.
std::string EncodePlan(const StoredPlan& plan, bool finished = false);
bool DecodePlan(const boost::json::object& json, StoredPlan& plan);

boost::json::object RowToJson(const store::RecordRow& row);
bool RowFromJson(const boost::json::object& json, store::RecordRow& row);

// Inserts and replaces the plan's rows.
store::Status ApplyRows(store::WriteTxn& txn, const StoredPlan& plan);

}  // namespace atipay::workflow

#endif  // ATIPAY_WORKFLOW_PLAN_CODEC_H_

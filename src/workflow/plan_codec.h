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

enum class PlanPart {
  kAll,     // pending: everything
  kWrites,  // finished: the writes, records included (a replayed callback of an earlier round
            // is answered with the next round's actions); rows and output dropped
  kChecks,  // finished in one round: the writes without their records, which is all that a
            // replayed callback is checked against
};
std::string EncodePlan(const StoredPlan& plan, PlanPart part);
bool DecodePlan(const boost::json::object& json, StoredPlan& plan);

// `record_required`: false for a row whose record is one of the plan's writes.
bool RowFromJson(const boost::json::object& json, store::RecordRow& row,
                 bool record_required = true);

// Inserts and replaces the plan's rows.
store::Status ApplyRows(store::WriteTxn& txn, const StoredPlan& plan);

}  // namespace atipay::workflow

#endif  // ATIPAY_WORKFLOW_PLAN_CODEC_H_

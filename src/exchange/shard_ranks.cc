#include "exchange/shard_ranks.h"

#include <fmt/format.h>

#include "common/size_text.h"
#include "exchange/mode_choice.h"
#include "exchange/rank_agreement.h"
#include "exchange/run_exchange.h"

namespace wm {

Status prepare_shard_ranks(TensorTable& table, uint64_t signature, const Status& ready, const ShardOptions& options,
                           ShardReport& report, const Logger& log) {
  if (!options.collective) {
    if (!ready) return ready;
    if (options.mode == ShardMode::kExchange)
      return Error{{}, {}, {},
                   "the exchange mode needs the other ranks: give ShardOptions::collective (the CLI: run under "
                   "mpirun, with MPI built in)",
                   ErrorCode::kInvalidArgument};
    report.mode = shard_mode_name(ShardMode::kShared);
    report.mode_reason = "no collective: each rank maps its own files and reads only its slices";
    return {};
  }
  Collective& c = *options.collective;
  if (c.rank() != options.rank || c.world() != options.world)
    return Error{{}, {}, {},
                 fmt::format("the collective is rank {} of {}, the shard options say rank {} of {}", c.rank(),
                             c.world(), options.rank, options.world),
                 ErrorCode::kInvalidArgument};
  if (Status s = agree_ranks(c, ready); !s) return s;
  auto choice = choose_mode(c, table, signature, options.mode);
  if (!choice) return choice.error();
  report.mode = shard_mode_name(choice->mode);
  report.mode_reason = choice->reason;
  log.info(fmt::format("shard: {} mode: {}", report.mode, report.mode_reason));
  if (choice->mode != ShardMode::kExchange) return {};

  auto x = run_exchange(c, table, options);
  if (!x) return x.error();
  for (size_t f = 0; f < table.files().size(); ++f) {
    FileInfo& info = table.mutable_file(f);
    info.opened = x->staged[f];
    info.identity = x->staged[f]->identity();
  }
  report.exchange_read_bytes = x->read_bytes;
  report.exchange_sent_bytes = x->sent_bytes;
  report.exchange_received_bytes = x->received_bytes;
  report.staged_bytes = x->staged_bytes;
  report.exchange_rounds = x->rounds;
  report.staging_dir = x->staging_dir;
  log.info(fmt::format("shard: exchange: read {} of the files (this rank's part), sent {}, received {}; {} staged "
                       "in {} over {} rounds",
                       human_bytes(x->read_bytes), human_bytes(x->sent_bytes), human_bytes(x->received_bytes),
                       human_bytes(x->staged_bytes), x->staging_dir, x->rounds));
  return {};
}

}  // namespace wm

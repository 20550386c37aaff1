#include "capi/collective_adapter.h"

#include <fmt/format.h>

namespace wm::capi {
namespace {

class CCollective final : public Collective {
 public:
  CCollective(const wm_collective& c, uint32_t rank, uint32_t world) : c_(c), rank_(rank), world_(world) {}
  uint32_t rank() const override { return rank_; }
  uint32_t world() const override { return world_; }
  Status allgather(const void* mine, size_t bytes, void* all) override {
    return check("allgather", c_.allgather(c_.user_data, mine, bytes, all));
  }
  Status alltoallv(const void* send, const std::vector<uint64_t>& send_counts,
                   const std::vector<uint64_t>& send_offsets, void* recv, const std::vector<uint64_t>& recv_counts,
                   const std::vector<uint64_t>& recv_offsets) override {
    return check("alltoallv", c_.alltoallv(c_.user_data, send, send_counts.data(), send_offsets.data(), recv,
                                           recv_counts.data(), recv_offsets.data()));
  }

 private:
  static Status check(const char* what, int rc) {
    if (rc == 0) return {};
    return Error{{}, {}, {}, fmt::format("the engine's collective: {} returned {}", what, rc), ErrorCode::kIo};
  }
  wm_collective c_;
  uint32_t rank_, world_;
};

}  // namespace

Result<std::shared_ptr<Collective>> make_c_collective(const wm_collective* c, uint32_t rank, uint32_t world) {
  if (!c->allgather || !c->alltoallv)
    return Error{{}, {}, {}, "wm_options.shard_collective: allgather and alltoallv must both be set",
                 ErrorCode::kInvalidArgument};
  return std::shared_ptr<Collective>(std::make_shared<CCollective>(*c, rank, world));
}

}  // namespace wm::capi

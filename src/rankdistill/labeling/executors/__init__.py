"""The ways a labelling run executes: in this process (:mod:`.local`), in spawned shard
processes (:mod:`.shards`), or on Ray Data (:mod:`.ray_data`). Each takes one
:class:`~.common.LabelingJob` and appends records to its store."""

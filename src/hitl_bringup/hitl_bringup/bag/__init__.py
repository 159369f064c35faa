"""rosbag2 MCAP recording and repair (library code: no rclpy); reading: hitl_core.bag_reader."""

from hitl_bringup.bag.metadata import BagError, FileStats, TopicInfo, qos_dict, read_metadata, write_metadata
from hitl_bringup.bag.msgdefs import MessageDefinitionError, canonical_type, full_definition
from hitl_bringup.bag.repair import RepairReport, file_is_whole, repair_bag
from hitl_bringup.bag.writer import BagWriter, WriterOptions

__all__ = [
    "BagError", "BagWriter", "FileStats", "MessageDefinitionError", "RepairReport", "TopicInfo",
    "WriterOptions",
    "canonical_type", "file_is_whole", "full_definition", "qos_dict", "read_metadata", "repair_bag",
    "write_metadata",
]

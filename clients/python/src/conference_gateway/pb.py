"""Every message and enum of `conference_gateway.v1`, in one namespace:
`pb.DialRequest`, `pb.Event`, `pb.SubscribeRequest`, ...

The generated modules (`conference_gateway.v1.call_service_pb2` and so on) are
built from the gateway's protos when the package is built; this module only
gathers them.
"""

from .v1.resources_pb2 import *  # noqa: F401,F403
from .v1.options_pb2 import *  # noqa: F401,F403
from .v1.events_pb2 import *  # noqa: F401,F403
from .v1.call_service_pb2 import *  # noqa: F401,F403
from .v1.conference_service_pb2 import *  # noqa: F401,F403
from .v1.queue_service_pb2 import *  # noqa: F401,F403
from .v1.event_service_pb2 import *  # noqa: F401,F403

del DESCRIPTOR  # each module's own; meaningless here

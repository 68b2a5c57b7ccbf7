import AutoTraderCore
import Foundation

// The trading stream's messages (wss://paper-api.alpaca.markets/stream). Shapes from ../shared/alpaca-fixtures:
// stream_trade_updates_session.json (authorization, listening), stream_trade_updates_fill.json (an event); docs
// `trading-api/streaming.md`. Objects, not arrays, no `T` key; keys sorted like every simulator answer.

extension SimWire {
    public enum TradeStreamMessage: Encodable, Sendable {
        /// `{"stream":"authorization","data":{"status":"authorized"|"unauthorized","action":"authenticate"|"listen"}}`.
        case authorization(authorized: Bool, action: String)
        /// `{"stream":"listening","data":{"streams":["trade_updates"]}}`.
        case listening([String])
        /// `{"stream":"trade_updates","data":{"event":…,"execution_id":…,"order":{…},"timestamp":…}}`, plus
        /// `price`, `qty` and `position_qty` (strings) on fills.
        case tradeUpdate(OrderEvent)

        enum Keys: String, CodingKey {
            case stream, data, status, action, streams, event, order, timestamp, price, qty
            case executionID = "execution_id", positionQty = "position_qty"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            switch self {
            case .authorization(let authorized, let action):
                try c.encode("authorization", forKey: .stream)
                var data = c.nestedContainer(keyedBy: Keys.self, forKey: .data)
                try data.encode(authorized ? "authorized" : "unauthorized", forKey: .status)
                try data.encode(action, forKey: .action)
            case .listening(let streams):
                try c.encode("listening", forKey: .stream)
                var data = c.nestedContainer(keyedBy: Keys.self, forKey: .data)
                try data.encode(streams, forKey: .streams)
            case .tradeUpdate(let event):
                try c.encode("trade_updates", forKey: .stream)
                var data = c.nestedContainer(keyedBy: Keys.self, forKey: .data)
                try data.encode(event.kind.rawValue, forKey: .event)
                try data.encode(event.executionID, forKey: .executionID)
                // The REST order object, plus `cancel_requested_at` (in the stream's documented order, not in the
                // REST fixtures); null: the simulator does not record cancel requests apart from cancellations.
                let order = data.superEncoder(forKey: .order)
                try SimWire.Order(event.order).encode(to: order)
                var extra = order.container(keyedBy: SimWireKey.self)
                try extra.encodeNil(forKey: SimWireKey("cancel_requested_at"))
                try data.encode(SimWire.time(event.timestamp), forKey: .timestamp)
                if let price = event.price { try data.encode(SimWire.decimal(price), forKey: .price) }
                if let qty = event.qty { try data.encode(qty, forKey: .qty) }
                if let position = event.positionQty { try data.encode(position, forKey: .positionQty) }
            }
        }

        /// The message as Alpaca's paper stream frames it: JSON in a binary frame, or msgpack (the same map)
        /// when the client asked for it.
        func frame(msgpack: Bool) -> [UInt8] {
            let json = (try? SimWire.data(self)) ?? Data("{}".utf8)
            guard msgpack, let object = try? JSONSerialization.jsonObject(with: json) else { return Array(json) }
            return MsgPack.from(jsonObject: object).bytes
        }
    }
}

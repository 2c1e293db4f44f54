import Models

/// The refusals the chat services share (codes from ``ErrorCode``).
extension ServiceError {
    /// 403 `not_a_member`: the caller is not a member of the room (or, for `typing`, the socket is not in it).
    public static let notAMember = ServiceError(.notAMember, message: "You are not a member of this room.")
    /// 404 `room_not_found`.
    public static let roomNotFound = ServiceError(.roomNotFound, message: "No such room.")
    /// 404 `user_not_found`: no such user, or a disabled one.
    static let userNotFound = ServiceError(.userNotFound, message: "No such user.")
    /// 409 `room_name_taken`: a public room has the name in any letter case.
    static let roomNameTaken = ServiceError(.roomNameTaken, message: "A public room with that name exists.", fields: ["name": "is taken"])
}

/// The version of this build of Tally, reported in `context.library.version`.
public enum TallyVersion {
    public static let current = "0.1.0"
}

package org.jcpg.testsupport;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Captures what jcpg logs through System.Logger, whose default backend is
 * java.util.logging. The test classes are compiled into the module
 * org.jcpg, which does not read java.logging, so it is reached by
 * reflection: a handler on a logger whose filter (a proxy) keeps every
 * record and lets none through to the console.
 */
public final class LogCapture implements AutoCloseable {
    public record Entry(String level, String logger, String message, Throwable thrown) {
    }

    public final List<Entry> entries = new CopyOnWriteArrayList<>();
    private final Object logger;
    private final Object handler;

    private static Class<?> jul(String simpleName) throws ClassNotFoundException {
        return Class.forName("java.util.logging." + simpleName);
    }

    /** Starts capturing the records of {@code loggerName} and its children. */
    public LogCapture(String loggerName) throws ReflectiveOperationException {
        Class<?> recordClass = jul("LogRecord");
        Class<?> filterClass = jul("Filter");
        Class<?> handlerClass = jul("Handler");
        Class<?> levelClass = jul("Level");
        var getLevel = recordClass.getMethod("getLevel");
        var getLoggerName = recordClass.getMethod("getLoggerName");
        var getMessage = recordClass.getMethod("getMessage");
        var getThrown = recordClass.getMethod("getThrown");
        Object filter = Proxy.newProxyInstance(LogCapture.class.getClassLoader(), new Class<?>[] {filterClass},
                (proxy, method, args) -> switch (method.getName()) {
                    case "isLoggable" -> {
                        Object r = args[0];
                        entries.add(new Entry(String.valueOf(getLevel.invoke(r)), (String) getLoggerName.invoke(r),
                                (String) getMessage.invoke(r), (Throwable) getThrown.invoke(r)));
                        yield false;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "LogCapture filter";
                });
        logger = jul("Logger").getMethod("getLogger", String.class).invoke(null, loggerName);
        handler = jul("ConsoleHandler").getConstructor().newInstance();
        handlerClass.getMethod("setLevel", levelClass).invoke(handler, levelClass.getField("ALL").get(null));
        handlerClass.getMethod("setFilter", filterClass).invoke(handler, filter);
        jul("Logger").getMethod("addHandler", handlerClass).invoke(logger, handler);
    }

    @Override
    public void close() throws ReflectiveOperationException {
        jul("Logger").getMethod("removeHandler", jul("Handler")).invoke(logger, handler);
    }
}
